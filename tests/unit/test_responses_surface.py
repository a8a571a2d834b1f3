"""Responses API caller surface (formats/openai_responses.py): request → chat body, chat completion → response.

Every request body used here is first checked against the spec's `CreateResponse` (so the tests only claim
things about valid Responses requests) and every chat body produced against `CreateChatCompletionRequest`;
every response object against the spec's `Response` and the openai SDK's `Response` model.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import httpx
import jsonschema
import openai
import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.responses import Response

from support.wire import SHARED, exchange
from switchyard.errors import GatewayError
from switchyard.formats.openai_responses import ResponsesSurface
from switchyard.formats.openai_responses_items import REDACTED_PREFIX, THINKING_PREFIX

SPEC = SHARED / "specs" / "openai-openapi.yaml"


def _route(node: Any, schemas: dict[str, Any]) -> Any:
    """OpenAPI `oneOf`/`anyOf` + `discriminator` → if/then on the discriminator value (precise errors).

    Where a branch has no fixed discriminator value (e.g. `InputItem`: an EasyInputMessage may omit `type`)
    the branches overlap, so `oneOf` becomes `anyOf`: the discriminator, not exclusivity, picks the branch.
    """
    if isinstance(node, list):
        return [_route(x, schemas) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _route(v, schemas) for k, v in node.items()}
    disc = node.get("discriminator")
    key = "oneOf" if "oneOf" in node else "anyOf" if "anyOf" in node else None
    if not disc or not key:
        return node
    prop, mapping, required = disc["propertyName"], {}, True
    for branch in node[key]:
        target = schemas.get(str(branch.get("$ref", "")).rsplit("/", 1)[-1], {})
        enum = ((target.get("properties") or {}).get(prop) or {}).get("enum")
        if not enum or len(enum) != 1:
            node["anyOf"] = node.pop(key)
            return node
        mapping[enum[0]] = branch["$ref"]
        required = required and prop in (target.get("required") or ())
    rest = {k: v for k, v in node.items() if k not in (key, "discriminator")}
    rest["properties"] = {**rest.get("properties", {}), prop: {"enum": list(mapping)}}
    if required:
        rest["required"] = [*rest.get("required", []), prop]
    rest["allOf"] = [
        *rest.get("allOf", []),
        *(
            {"if": {"properties": {prop: {"const": k}}, "required": [prop]}, "then": {"$ref": ref}}
            for k, ref in mapping.items()
        ),
    ]
    return rest


@functools.cache
def _components() -> dict[str, Any]:
    """Parsed at first use (seconds), not when every pytest-xdist worker collects this module."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    components = yaml.load(SPEC.read_text(), Loader=loader)["components"]
    return _route(components, components["schemas"])


_VALIDATORS: dict[str, jsonschema.Draft202012Validator] = {}


def spec_errors(name: str, value: Any) -> list[str]:
    v = _VALIDATORS.get(name)
    if v is None:
        v = _VALIDATORS[name] = jsonschema.Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": _components()}
        )
    return [f"{list(e.absolute_path)}: {e.message[:300]}" for e in v.iter_errors(value)]


def chat_of(body: dict[str, Any], surface: ResponsesSurface | None = None) -> dict[str, Any]:
    assert spec_errors("CreateResponse", body) == [], "the test's own request body must be valid"
    original = copy.deepcopy(body)
    chat = (surface or ResponsesSurface()).request(body)
    assert body == original, "request() must not mutate the caller's body"
    assert spec_errors("CreateChatCompletionRequest", chat) == []
    return chat


def rejected(body: dict[str, Any]) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        ResponsesSurface().request(body)
    assert info.value.status == 400
    return info.value


def req(**kw: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", **kw}


def fn_tool(name: str = "get_weather", **kw: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "parameters": {"type": "object", "properties": {}},
        "strict": True,
        **kw,
    }


def call(call_id: str, name: str = "get_weather", arguments: str = '{"city":"Paris"}') -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def output(call_id: str, out: Any = "sunny") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": out}


# -- request: input ---------------------------------------------------------------------------------


def test_instructions_and_string_input() -> None:
    chat = chat_of(req(instructions="Be brief.", input="Hi"))
    assert chat["model"] == "claude-sonnet-4-5"
    assert chat["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


def test_message_items_with_every_role_and_text_parts() -> None:
    chat = chat_of(
        req(
            input=[
                {"role": "developer", "content": "dev rules"},
                {"role": "system", "content": [{"type": "input_text", "text": "sys"}]},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}],
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "id": "msg_1",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "answer", "annotations": [], "logprobs": []}],
                },
                {"role": "assistant", "content": "plain"},
            ]
        )
    )
    assert chat["messages"] == [
        {"role": "system", "content": "dev rules"},  # developer → system: every bridged provider knows it
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "answer"},
        {"role": "assistant", "content": "plain"},
    ]


def test_assistant_refusal_part_becomes_the_refusal_field() -> None:
    chat = chat_of(
        req(
            input=[
                {
                    "type": "message",
                    "role": "assistant",
                    "id": "msg_1",
                    "status": "completed",
                    "content": [{"type": "refusal", "refusal": "I can't."}],
                },
                {"role": "user", "content": "ok"},
            ]
        )
    )
    assert chat["messages"][0] == {"role": "assistant", "content": None, "refusal": "I can't."}


def test_input_image_by_url_keeps_detail() -> None:
    chat = chat_of(
        req(
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what is this?"},
                        {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"},
                        {
                            "type": "input_image",
                            "image_url": "data:image/png;base64,iVBORw0KGgo=",
                            "detail": "auto",
                        },
                    ],
                }
            ]
        )
    )
    assert chat["messages"][0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"}},
    ]


def test_input_image_by_file_id_is_a_clear_400() -> None:
    err = rejected(
        req(
            input=[
                {"role": "user", "content": [{"type": "input_image", "file_id": "file-1", "detail": "auto"}]}
            ]
        )
    )
    assert "file_id" in err.message and "bridged" in err.message
    assert err.param == "input[0].content[0]"


def test_input_file_with_data_becomes_a_file_part() -> None:
    part = {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}
    chat = chat_of(req(input=[{"role": "user", "content": [part]}]))
    assert chat["messages"][0]["content"] == [
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}
    ]


@pytest.mark.parametrize(
    "part, words",
    [
        ({"type": "input_file", "file_id": "file-1"}, "file_id"),
        ({"type": "input_file", "file_url": "https://example.com/a.pdf"}, "file_url"),
        ({"type": "input_file", "filename": "a.pdf"}, "file_data"),
    ],
)
def test_input_file_without_data_is_a_400(part: dict[str, Any], words: str) -> None:
    assert words in rejected(req(input=[{"role": "user", "content": [part]}])).message


def test_consecutive_function_calls_share_one_assistant_message() -> None:
    chat = chat_of(
        req(
            input=[
                {"role": "user", "content": "weather in Paris and Rome?"},
                call("call_1"),
                call("call_2", arguments='{"city":"Rome"}'),
                output("call_1", "sunny"),
                output("call_2", "rain"),
            ]
        )
    )
    assert chat["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
    ]


def test_function_call_after_assistant_text_joins_that_message() -> None:
    chat = chat_of(
        req(
            input=[
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "Let me check."},
                call("call_1"),
                output("call_1"),
                call("call_2"),  # after a tool output: a new assistant turn
            ]
        )
    )
    assert [m["role"] for m in chat["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert chat["messages"][1]["content"] == "Let me check."
    assert [c["id"] for c in chat["messages"][1]["tool_calls"]] == ["call_1"]
    assert [c["id"] for c in chat["messages"][3]["tool_calls"]] == ["call_2"]


def test_function_call_output_that_is_not_a_string() -> None:
    texts = [{"type": "input_text", "text": "part 1, "}, {"type": "input_text", "text": "part 2"}]
    image = [{"type": "input_image", "image_url": "https://example.com/x.png", "detail": "auto"}]
    chat = chat_of(req(input=[call("c1"), output("c1", texts), call("c2"), output("c2", image)]))
    tool_msgs = [m for m in chat["messages"] if m["role"] == "tool"]
    assert tool_msgs[0]["content"] == "part 1, part 2"
    assert orjson.loads(tool_msgs[1]["content"]) == image


def test_reasoning_summary_rides_on_the_next_assistant_message() -> None:
    reasoning = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "think A"}, {"type": "summary_text", "text": "think B"}],
    }
    chat = chat_of(req(input=[{"role": "user", "content": "q"}, reasoning, call("c1"), output("c1")]))
    assert chat["messages"][1]["reasoning_content"] == "think A\n\nthink B"
    assert "thinking_blocks" not in chat["messages"][1]


def test_reasoning_without_summary_or_following_assistant_is_skipped() -> None:
    empty = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAforeign"}
    chat = chat_of(
        req(
            input=[
                {"role": "user", "content": "q"},
                empty,
                {"role": "assistant", "content": "a"},
                {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "x"}]},
                {"role": "user", "content": "next"},
            ]
        )
    )
    assert chat["messages"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "next"},
    ]  # foreign encrypted_content is never sent as a thinking signature


def test_signed_thinking_round_trips_to_thinking_blocks() -> None:
    items = [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "hmm"}],
            "encrypted_content": THINKING_PREFIX + "sig==",
        },
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": REDACTED_PREFIX + "opaque"},
    ]
    chat = chat_of(req(input=[{"role": "user", "content": "q"}, *items, call("c1"), output("c1")]))
    assert chat["messages"][1]["thinking_blocks"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    assert chat["messages"][1]["reasoning_content"] == "hmm"


@pytest.mark.parametrize(
    "item",
    [
        {"type": "item_reference", "id": "msg_123"},
        {
            "type": "web_search_call",
            "id": "ws_1",
            "status": "completed",
            "action": {"type": "search", "query": "x"},
        },
    ],
)
def test_items_chat_cannot_carry_are_a_400(item: dict[str, Any]) -> None:
    err = rejected(req(input=[item]))
    assert item["type"] in err.message and "bridged" in err.message


def test_missing_or_malformed_input_is_a_400() -> None:
    assert rejected(req()).param == "input"
    assert rejected(req(input=42)).param == "input"
    assert rejected(req(input=[])).param == "input"
    assert rejected(req(input=["text"])).param == "input[0]"
    assert rejected(req(input=[{"role": "tool", "content": "x"}])).param == "input[0].role"


def test_unresolved_previous_response_id_says_nothing_is_kept() -> None:
    # the gateway resolves it before the surface sees it (pipeline/responses_state); reaching the surface
    # unresolved means the gateway keeps no responses (responses.retention_days: 0)
    err = rejected(req(input="hi", previous_response_id="resp_123"))
    assert err.param == "previous_response_id"
    assert "keeps no responses" in err.message and "whole conversation" in err.message


@pytest.mark.parametrize(
    "extra, param",
    [
        ({"conversation": "conv_1"}, "conversation"),
        ({"background": True}, "background"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
    ],
)
def test_other_stateful_features_are_a_400(extra: dict[str, Any], param: str) -> None:
    assert rejected(req(input="hi", **extra)).param == param


# -- request: tools and parameters ------------------------------------------------------------------


def test_function_tools_are_nested_and_keep_strict() -> None:
    tools = [
        fn_tool("a", description="A tool"),
        {"type": "function", "name": "b", "parameters": None, "strict": None},
    ]
    chat = chat_of(req(input="hi", tools=tools))
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "a",
                "description": "A tool",
                "parameters": {"type": "object", "properties": {}},
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "b"}},
    ]


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "web_search"},
        {"type": "web_search_preview"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "image_generation"},
    ],
)
def test_built_in_tools_are_a_400_naming_the_tool(tool: dict[str, Any]) -> None:
    err = rejected(req(input="hi", tools=[fn_tool(), tool]))
    assert (
        tool["type"] in err.message
        and "not supported when the Responses API is bridged to chat" in err.message
    )
    assert err.param == "tools[1]"


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_tool_choice_modes_are_unchanged(choice: str) -> None:
    chat = chat_of(req(input="hi", tools=[fn_tool()], tool_choice=choice, parallel_tool_calls=False))
    assert chat["tool_choice"] == choice  # Helicone turns "required" into "auto"; we keep it
    assert chat["parallel_tool_calls"] is False


def test_named_tool_choice() -> None:
    chat = chat_of(
        req(input="hi", tools=[fn_tool()], tool_choice={"type": "function", "name": "get_weather"})
    )
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_allowed_tools_narrows_the_tool_list() -> None:
    choice = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "b"}]}
    chat = chat_of(req(input="hi", tools=[fn_tool("a"), fn_tool("b")], tool_choice=choice))
    assert [t["function"]["name"] for t in chat["tools"]] == ["b"]
    assert chat["tool_choice"] == "required"


def test_hosted_tool_choice_is_a_400() -> None:
    assert (
        rejected(req(input="hi", tools=[fn_tool()], tool_choice={"type": "file_search"})).param
        == "tool_choice"
    )


def test_tool_settings_without_tools_are_dropped() -> None:
    chat = chat_of(req(input="hi", tool_choice="auto", parallel_tool_calls=True))
    assert "tool_choice" not in chat and "parallel_tool_calls" not in chat and "tools" not in chat


def test_sampling_and_bookkeeping_parameters() -> None:
    chat = chat_of(
        req(
            input="hi",
            max_output_tokens=300,
            temperature=0.2,
            top_p=0.9,
            user="u-1",
            metadata={"k": "v"},
            store=True,
            truncation="disabled",
            include=["reasoning.encrypted_content"],
            reasoning={"effort": "minimal", "summary": "auto"},
            service_tier="auto",
            safety_identifier="s-1",
            prompt_cache_key="pck",
        )
    )
    assert chat == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "metadata": {"k": "v"},
        "service_tier": "auto",
        "reasoning_effort": "minimal",  # Helicone turns "minimal" into "low"
        "safety_identifier": "s-1",
        "prompt_cache_key": "pck",
    }


def test_streaming_asks_for_usage() -> None:
    chat = chat_of(req(input="hi", stream=True))
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}


def test_text_formats() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "name": "thing", "schema": schema, "strict": True, "description": "A thing"}
    chat = chat_of(req(input="hi", text={"format": fmt, "verbosity": "low"}))
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "thing", "schema": schema, "strict": True, "description": "A thing"},
    }
    assert chat["verbosity"] == "low"
    assert chat_of(req(input="hi", text={"format": {"type": "json_object"}}))["response_format"] == {
        "type": "json_object"
    }
    assert "response_format" not in chat_of(req(input="hi", text={"format": {"type": "text"}}))


# -- request: property ------------------------------------------------------------------------------

_text = st.text(min_size=1, max_size=12)
_ident = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_message = st.builds(
    lambda role, content: {"role": role, "content": content},
    st.sampled_from(["user", "system", "developer", "assistant"]),
    st.one_of(
        _text, st.lists(_text.map(lambda t: {"type": "input_text", "text": t}), min_size=1, max_size=3)
    ),
)
_function_call = st.builds(
    lambda cid, name, args: call(cid, name, args),
    _ident.map("call_".__add__),
    _ident,
    st.dictionaries(_ident, st.integers(-1000, 1000), max_size=2).map(lambda d: orjson.dumps(d).decode()),
)
_function_output = st.builds(
    output,
    _ident.map("call_".__add__),
    st.one_of(_text, st.lists(_text.map(lambda t: {"type": "input_text", "text": t}), max_size=2)),
)
_reasoning = st.builds(
    lambda ts: {
        "type": "reasoning",
        "id": "rs_x",
        "summary": [{"type": "summary_text", "text": t} for t in ts],
    },
    st.lists(_text, max_size=2),
)
_items = st.lists(st.one_of(_message, _function_call, _function_output, _reasoning), min_size=1, max_size=12)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [p["text"] for p in content or ()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=_items, tools=st.lists(_ident, max_size=4, unique=True), instructions=st.none() | _text)
def test_request_never_raises_and_never_drops_items(
    items: list[dict[str, Any]], tools: list[str], instructions: str | None
) -> None:
    body = req(input=items, tools=[fn_tool(n) for n in tools])
    if instructions is not None:
        body["instructions"] = instructions
    if all(i.get("type") == "reasoning" for i in items):
        items.append({"role": "user", "content": "go"})
    chat = ResponsesSurface().request(body)
    assert spec_errors("CreateChatCompletionRequest", chat) == []
    msgs = chat["messages"]
    if instructions is not None:
        assert msgs[0] == {"role": "system", "content": instructions}
        msgs = msgs[1:]
    # every message item, in order, with its text
    expected = [
        (("system" if i["role"] == "developer" else i["role"]), _texts(i["content"]))
        for i in items
        if "role" in i
    ]
    got = [
        (m["role"], _texts(m["content"]) if m["role"] != "assistant" else [m["content"]])
        for m in msgs
        if m["role"] != "tool" and (m["role"] != "assistant" or m.get("content") is not None)
    ]
    expected = [(r, t if r != "assistant" else ["".join(t)]) for r, t in expected]
    assert got == expected
    calls = [c for m in msgs for c in m.get("tool_calls") or ()]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        (i["call_id"], i["name"], i["arguments"]) for i in items if i.get("type") == "function_call"
    ]
    outputs = [i for i in items if i.get("type") == "function_call_output"]
    assert [m["tool_call_id"] for m in msgs if m["role"] == "tool"] == [o["call_id"] for o in outputs]
    assert [t["function"]["name"] for t in chat.get("tools", ())] == tools


# -- response ---------------------------------------------------------------------------------------


def check_response(resp: dict[str, Any]) -> Response:
    assert spec_errors("Response", resp) == []
    assert "output_text" not in resp  # the SDK computes it
    return Response.model_validate(resp)


def completion(
    message: dict[str, Any], finish: str = "stop", usage: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "claude-x",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        **kw,
    }


def respond(comp: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    surface = ResponsesSurface()
    surface.request(body or req(input="hi"))
    return surface.response(comp)


def test_text_completion_from_the_wire() -> None:
    comp = exchange("openai/chat_completion.json")["response"]["body"]
    resp = respond(comp)
    parsed = check_response(resp)
    text = comp["choices"][0]["message"]["content"]
    assert (
        resp["id"].startswith("resp_") and resp["id"] != "resp_" + comp["id"] and resp["object"] == "response"
    )
    assert resp["created_at"] == comp["created"] and resp["model"] == comp["model"]
    assert resp["status"] == "completed" and resp["incomplete_details"] is None and resp["error"] is None
    [msg] = resp["output"]
    assert msg["type"] == "message" and msg["id"].startswith("msg_") and msg["status"] == "completed"
    assert msg["role"] == "assistant"
    assert msg["content"] == [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    assert parsed.output_text == text
    u = comp["usage"]
    assert resp["usage"] == {
        "input_tokens": u["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": u["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u["total_tokens"],
    }


def test_tool_calls_from_the_wire() -> None:
    comp = exchange("openai/chat_completion_tool_calls.json")["response"]["body"]
    resp = respond(comp)
    check_response(resp)
    calls = comp["choices"][0]["message"]["tool_calls"]
    items = [i for i in resp["output"] if i["type"] == "function_call"]
    assert [(i["call_id"], i["name"], i["arguments"], i["status"]) for i in items] == [
        (c["id"], c["function"]["name"], c["function"]["arguments"], "completed") for c in calls
    ]
    assert all(i["id"].startswith("fc_") for i in items)


def test_length_is_incomplete_max_output_tokens() -> None:
    comp = exchange("openai/chat_completion_length.json")["response"]["body"]
    resp = respond(comp)
    check_response(resp)
    assert resp["status"] == "incomplete"
    assert resp["incomplete_details"] == {"reason": "max_output_tokens"}
    assert resp["output"][-1]["status"] == "incomplete"


def test_content_filter_is_incomplete_content_filter() -> None:
    resp = respond(completion({"content": "partial"}, finish="content_filter"))
    check_response(resp)
    assert resp["status"] == "incomplete" and resp["incomplete_details"] == {"reason": "content_filter"}


def test_echo_fields_come_from_the_request() -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    body = req(
        input="hi",
        instructions="Be brief.",
        tools=[fn_tool("a", description="d")],
        tool_choice="required",
        parallel_tool_calls=False,
        temperature=0.3,
        top_p=0.5,
        metadata={"k": "v"},
        max_output_tokens=99,
        text={"format": {"type": "json_schema", "name": "x", "schema": schema, "strict": True}},
        reasoning={"effort": "low"},
        user="u-1",
    )
    resp = respond(completion({"content": "{}"}), body)
    check_response(resp)
    assert resp["instructions"] == "Be brief."
    assert resp["tools"] == [
        {
            "type": "function",
            "name": "a",
            "description": "d",
            "parameters": {"type": "object", "properties": {}},
            "strict": True,
        }
    ]
    assert resp["tool_choice"] == "required" and resp["parallel_tool_calls"] is False
    assert (resp["temperature"], resp["top_p"], resp["max_output_tokens"]) == (0.3, 0.5, 99)
    assert resp["metadata"] == {"k": "v"} and resp["user"] == "u-1"
    assert resp["text"] == {"format": body["text"]["format"]}
    assert resp["reasoning"]["effort"] == "low"
    assert resp["truncation"] == "disabled" and resp["store"] is False


def test_defaults_when_the_request_set_nothing() -> None:
    resp = respond(completion({"content": "x"}))
    assert (resp["tool_choice"], resp["tools"], resp["parallel_tool_calls"]) == ("auto", [], True)
    assert resp["text"] == {"format": {"type": "text"}} and resp["metadata"] == {}
    assert resp["instructions"] is None and "user" not in resp


def test_reasoning_and_refusal_and_usage_details() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 40, "cache_write_tokens": 10},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }
    resp = respond(
        completion({"content": None, "refusal": "No.", "reasoning_content": "why not"}, usage=usage)
    )
    check_response(resp)
    assert [i["type"] for i in resp["output"]] == ["reasoning", "message"]
    assert resp["output"][0]["summary"] == [{"type": "summary_text", "text": "why not"}]
    assert resp["output"][0]["id"].startswith("rs_")
    assert resp["output"][1]["content"] == [{"type": "refusal", "refusal": "No."}]
    assert resp["usage"]["input_tokens_details"] == {"cached_tokens": 40, "cache_write_tokens": 10}
    assert resp["usage"]["output_tokens_details"] == {"reasoning_tokens": 30}


def test_thinking_blocks_survive_a_round_trip() -> None:
    blocks = [
        {"type": "thinking", "thinking": "step 1", "signature": "c2ln"},
        {"type": "redacted_thinking", "data": "b3BhcXVl"},
    ]
    tool_call = {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    resp = respond(
        completion(
            {
                "content": None,
                "reasoning_content": "step 1",
                "thinking_blocks": blocks,
                "tool_calls": [tool_call],
            },
            finish="tool_calls",
        )
    )
    check_response(resp)
    assert [i["type"] for i in resp["output"]] == ["reasoning", "reasoning", "function_call"]
    # the caller sends the output back as the next turn's input, as Responses clients do
    nxt = req(input=[{"role": "user", "content": "weather?"}, *resp["output"], output("toolu_1")])
    assistant = chat_of(nxt)["messages"][1]
    assert assistant["thinking_blocks"] == blocks
    assert assistant["tool_calls"] == [tool_call]


def test_missing_id_and_empty_choices() -> None:
    resp = respond({"object": "chat.completion", "created": 1, "model": "m", "choices": []})
    check_response(resp)
    assert resp["id"].startswith("resp_") and len(resp["id"]) > 10 and resp["output"] == []


def test_the_openai_sdk_reads_the_response() -> None:
    comp = exchange("openai/chat_completion_tool_calls.json")["response"]["body"]
    body = req(input="weather?", tools=[fn_tool("get_weather")])
    surface = ResponsesSurface()
    surface.request(body)
    payload = orjson.dumps(surface.response(comp))
    transport = httpx.MockTransport(
        lambda _r: httpx.Response(200, content=payload, headers={"content-type": "application/json"})
    )
    client = openai.OpenAI(
        api_key="test",
        base_url="http://gateway.test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=transport),
    )
    resp = client.responses.create(**body)
    assert resp.id.startswith("resp_") and len(resp.id) == len("resp_") + 32
    assert [i.name for i in resp.output if i.type == "function_call"] == [
        c["function"]["name"] for c in comp["choices"][0]["message"]["tool_calls"]
    ]
    assert resp.usage is not None and resp.usage.total_tokens == comp["usage"]["total_tokens"]
