"""Prompt templating (pipeline/prompt_template.py): typed variables, partials before variables, the merge."""

from __future__ import annotations

import pytest

from switchyard.pipeline.prompt_template import TemplateError, fill_variables, merge, resolve_partials


def test_variables_substitute_in_text_and_whole_values_keep_their_type():
    body = {
        "messages": [{"role": "system", "content": "Help {{hc:name:string}}, aged {{hc:age:number}}."}],
        "temperature": "{{hc:temp:number}}",
        "stream_hint": "{{hc:flag:boolean}}",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "f",
                    "parameters": {
                        "type": "object",
                        "properties": {"x": {"type": "string", "enum": "{{hc:choices:array}}"}},
                    },
                },
            }
        ],
        "response_format": {"{{hc:key:string}}": 1},
    }
    out = fill_variables(
        body, {"name": "Ada", "age": "36", "temp": 0.5, "flag": "yes", "choices": ["a", "b"], "key": "k"}
    )
    assert out["messages"][0]["content"] == "Help Ada, aged 36."
    assert out["temperature"] == 0.5 and out["stream_hint"] is True
    assert out["tools"][0]["function"]["parameters"]["properties"]["x"]["enum"] == ["a", "b"]
    assert out["response_format"] == {"k": 1}
    assert body["messages"][0]["content"].startswith("Help {{hc:name")  # the saved version is not changed


@pytest.mark.parametrize(
    "inputs, fragment",
    [
        ({"n": "abc", "b": True}, "Variable 'n' is 'number' but got 'abc'"),
        ({"n": 1, "b": "maybe"}, "Variable 'b' is 'boolean' but got 'maybe'"),
        ({"n": True, "b": True}, "Variable 'n' is 'number' but got true"),
        ({"b": False}, "Variable 'n' has no value in 'inputs'"),
    ],
)
def test_type_errors_name_the_variable_and_the_value(inputs, fragment):
    with pytest.raises(TemplateError) as e:
        fill_variables(
            {"messages": [{"role": "user", "content": "{{hc:n:number}} {{hc:b:boolean}}"}]}, inputs
        )
    assert fragment in str(e.value)


def test_booleans_and_numbers_accept_helicone_spellings():
    out = fill_variables(
        {"a": "{{hc:a:boolean}}", "b": "{{hc:b:boolean}}", "n": "{{hc:n:number}}", "t": "x={{hc:b:boolean}}"},
        {"a": "TRUE", "b": "no", "n": "2.5"},
    )
    assert out == {"a": True, "b": False, "n": 2.5, "t": "x=false"}


async def test_partials_resolve_before_variables():
    others = {
        ("base", "production"): {"messages": [{"role": "system", "content": "Be {{hc:tone:string}}."}]},
        ("base", "staging"): {
            "messages": [
                {"role": "system", "content": "S0"},
                {"role": "user", "content": [{"type": "text", "text": "S1"}]},
            ]
        },
    }

    async def lookup(pid, env):
        return others.get((pid, env))

    body = {"messages": [{"role": "system", "content": "{{hcp:base:0}} {{hcp:base:1:staging}}"}]}
    out = fill_variables(await resolve_partials(body, lookup), {"tone": "brief"})
    assert out["messages"][0]["content"] == "Be brief. S1"
    with pytest.raises(TemplateError, match="no prompt 'nope'"):
        await resolve_partials({"messages": [{"role": "user", "content": "{{hcp:nope:0}}"}]}, lookup)
    with pytest.raises(TemplateError, match="has 1 messages"):
        await resolve_partials({"messages": [{"role": "user", "content": "{{hcp:base:3}}"}]}, lookup)


def test_merge_request_overrides_and_messages_append():
    saved = {
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "max_tokens": 50,
        "messages": [{"role": "system", "content": "S"}],
    }
    req = {
        "prompt_id": "abc123",
        "environment": "staging",
        "inputs": {"x": 1},
        "version_id": None,
        "temperature": 0.9,
        "stream": True,
        "messages": [{"role": "user", "content": "U"}],
    }
    out = merge(saved, req)
    assert out == {
        "model": "gpt-4o-mini",
        "temperature": 0.9,
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
    }
    assert merge(saved, {"prompt_id": "p"})["messages"] == saved["messages"]
