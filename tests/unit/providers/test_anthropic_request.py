"""OpenAI chat body → Anthropic Messages request (switchyard.providers.anthropic.request)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from support.wire import SHARED, WIRE
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.anthropic.request import JSON_TOOL, THINKING_BUDGETS, parse_arguments
from switchyard.providers.base import Target, UpstreamError

FIXTURES = WIRE / "anthropic"
SPEC = SHARED / "specs" / "anthropic-openapi-curated.yaml"
PROVIDER = AnthropicProvider()


def target(**kw: Any) -> Target:
    base = {
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "format": "anthropic",
        "base_url": "https://api.anthropic.com/v1",
        "api_key": "sk-ant-test",
        "auth": "x-api-key",
    }
    return Target(**{**base, **kw})


def _discriminated(node: Any) -> Any:
    """OpenAPI `oneOf` + `discriminator` → JSON Schema that picks the branch by the `type` value."""
    if isinstance(node, list):
        return [_discriminated(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _discriminated(v) for k, v in node.items()}
    disc = node.pop("discriminator", None)
    if disc and "oneOf" in node:
        prop, mapping = disc["propertyName"], disc["mapping"]
        node.pop("oneOf")
        node["allOf"] = [
            {"if": {"properties": {prop: {"const": k}}, "required": [prop]}, "then": {"$ref": ref}}
            for k, ref in mapping.items()
        ]
        # a custom tool may omit `type`
        node["allOf"].append(
            {"if": {"not": {"required": [prop]}}, "then": {"$ref": next(iter(mapping.values()))}}
        )
        node["properties"] = {prop: {"enum": list(mapping)}}
    return node


# libyaml's safe loader (the same types as yaml.safe_load, ~8x faster): every worker collects this module
_SCHEMA = _discriminated(yaml.load(SPEC.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
# the curated spec has a stray `type: string` next to the string|blocks `oneOf` for `system`
_SCHEMA["components"]["schemas"]["CreateMessageRequest"]["properties"]["system"].pop("type")
VALIDATOR = jsonschema.Draft7Validator(
    {"$ref": "#/components/schemas/CreateMessageRequest", "components": _SCHEMA["components"]}
)


def build(body: dict[str, Any], validate: bool = True, **target_kw: Any) -> dict[str, Any]:
    original = copy.deepcopy(body)
    req = PROVIDER.build_request(body, target(**target_kw))
    assert body == original, "build_request must not mutate the caller's body"
    out = orjson.loads(req.body)
    if validate:
        errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in VALIDATOR.iter_errors(out)]
        assert not errors, errors
    return out


def user(text: str = "hi") -> dict[str, Any]:
    return {"role": "user", "content": text}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    },
}


# --- envelope -----------------------------------------------------------------------------------


def test_url_headers_and_body_bytes() -> None:
    req = PROVIDER.build_request({"messages": [user()]}, target(headers={"anthropic-beta": "x"}))
    assert req.method == "POST"
    assert req.url == "https://api.anthropic.com/v1/messages"
    assert req.headers == {
        "x-api-key": "sk-ant-test",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
        "anthropic-beta": "x",
    }
    assert req.stream is False
    assert orjson.loads(req.body) == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4096,
    }


def test_bearer_auth_trailing_slash_and_stream() -> None:
    req = PROVIDER.build_request(
        {"model": "ignored", "messages": [user()], "stream": True, "stream_options": {"include_usage": True}},
        target(auth="bearer", base_url="https://proxy.example/v1/"),
    )
    assert req.url == "https://proxy.example/v1/messages"
    assert req.headers["authorization"] == "Bearer sk-ant-test"
    assert "x-api-key" not in req.headers
    assert req.stream is True
    body = orjson.loads(req.body)
    assert body["stream"] is True and body["model"] == "claude-sonnet-4-5"
    assert "stream_options" not in body


def test_no_key_no_auth_header() -> None:
    req = PROVIDER.build_request({"messages": [user()]}, target(api_key=None, auth="none"))
    assert "x-api-key" not in req.headers and "authorization" not in req.headers


# --- recorded requests --------------------------------------------------------------------------


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def test_matches_recorded_request_messages_json() -> None:
    rec = json.loads((FIXTURES / "messages.json").read_text())["request"]["body"]
    out = build(
        {
            "messages": [
                {"role": "system", "content": "You are a helpful assistant.\n\n"},
                {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]},
            ],
            "stream": False,
        },
        model=rec["model"],
    )
    assert out["system"] == rec["system"]
    assert out["max_tokens"] == rec["max_tokens"]
    assert [(m["role"], _blocks(m["content"])) for m in out["messages"]] == [
        (m["role"], _blocks(m["content"])) for m in rec["messages"]
    ]


def test_matches_recorded_request_tool_use_json() -> None:
    rec = json.loads((FIXTURES / "messages_tool_use.json").read_text())["request"]["body"]
    tools = [
        {
            "type": "function",
            "function": {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]},
        }
        for t in rec["tools"]
    ]
    out = build(
        {
            "messages": [user("What is the largest city in the user country?")],
            "tools": tools,
            "tool_choice": "required",
        },
        model=rec["model"],
    )
    assert out["tool_choice"] == rec["tool_choice"] == {"type": "any"}
    # an empty description is omitted (optional in Anthropic); everything else is identical
    assert out["tools"] == [{k: v for k, v in t.items() if v != ""} for t in rec["tools"]]


# --- system / multi-turn ------------------------------------------------------------------------


def test_system_and_developer_become_system_blocks_with_cache_control() -> None:
    out = build(
        {
            "messages": [
                {"role": "system", "content": "rule one"},
                {
                    "role": "developer",
                    "content": [{"type": "text", "text": "rule two", "cache_control": {"type": "ephemeral"}}],
                },
                user(),
            ]
        }
    )
    assert out["system"] == [
        {"type": "text", "text": "rule one"},
        {"type": "text", "text": "rule two", "cache_control": {"type": "ephemeral"}},
    ]
    assert out["messages"] == [{"role": "user", "content": "hi"}]


def test_single_system_with_message_cache_control_stays_blocks() -> None:
    out = build(
        {"messages": [{"role": "system", "content": "s", "cache_control": {"type": "ephemeral"}}, user()]}
    )
    assert out["system"] == [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]


def test_multi_turn_and_merging_of_consecutive_roles() -> None:
    out = build(
        {
            "messages": [
                {"role": "system", "content": "s"},
                user("a"),
                user("b"),
                {"role": "assistant", "content": "c"},
                {"role": "assistant", "content": [{"type": "text", "text": "d"}]},
                user("e"),
            ]
        }
    )
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]},
        {"role": "user", "content": "e"},
    ]


def test_message_level_and_part_level_cache_control() -> None:
    cc = {"type": "ephemeral"}
    out = build(
        {
            "messages": [
                {"role": "user", "content": "long doc", "cache_control": cc},
                {"role": "assistant", "content": "ok"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "x", "cache_control": cc},
                        {"type": "text", "text": "y"},
                    ],
                },
            ]
        }
    )
    assert out["messages"][0]["content"] == [{"type": "text", "text": "long doc", "cache_control": cc}]
    assert out["messages"][2]["content"][0] == {"type": "text", "text": "x", "cache_control": cc}
    assert "cache_control" not in out["messages"][2]["content"][1]


def test_only_system_messages_is_a_clear_error() -> None:
    with pytest.raises(UpstreamError) as e:
        build({"messages": [{"role": "system", "content": "s"}]})
    assert e.value.status == 400 and e.value.kind == "bad_request"


def test_empty_messages_are_skipped_not_sent_empty() -> None:
    out = build({"messages": [user("a"), {"role": "assistant", "content": ""}, user("b")]})
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


# --- images / files -----------------------------------------------------------------------------


def test_images_url_and_base64() -> None:
    out = build(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "compare"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/a.png", "detail": "high"},
                        },
                        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
                    ],
                }
            ]
        }
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "compare"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
    ]


def test_pdf_and_text_files_become_documents() -> None:
    out = build(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
                        },
                        {"type": "file", "file": {"file_data": "data:text/plain;base64,aGVsbG8="}},
                    ],
                }
            ]
        }
    )
    assert out["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
            "title": "a.pdf",
        },
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello"}},
    ]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "ftp://x/y.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "file", "file": {"file_id": "file-123"}},
    ],
)
def test_unsupported_parts_raise_instead_of_dropping(part: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as e:
        build({"messages": [{"role": "user", "content": [part]}]})
    assert e.value.kind == "bad_request" and e.value.status == 400


# --- tools --------------------------------------------------------------------------------------


def test_parallel_tool_calls_and_results_round_trip() -> None:
    out = build(
        {
            "messages": [
                user("weather in Paris and Rome?"),
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "22C"}]},
                user("thanks, which is warmer?"),
            ],
            "tools": [WEATHER_TOOL],
        }
    )
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
    assert "tool_choice" not in out
    assert out["messages"] == [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "22C"}],
                },
                {"type": "text", "text": "thanks, which is warmer?"},
            ],
        },
    ]


def test_assistant_text_plus_tool_call_and_tool_result_first_in_user_turn() -> None:
    out = build(
        {
            "messages": [
                user("q"),
                {
                    "role": "assistant",
                    "content": "let me check",
                    "tool_calls": [
                        {"id": "t", "type": "function", "function": {"name": "f", "arguments": ""}}
                    ],
                },
                user("also this"),  # out-of-order client: text before the tool result
                {"role": "tool", "tool_call_id": "t", "content": "r", "cache_control": {"type": "ephemeral"}},
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}],
        }
    )
    assert out["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    assert out["messages"][1]["content"] == [
        {"type": "text", "text": "let me check"},
        {"type": "tool_use", "id": "t", "name": "f", "input": {}},
    ]
    assert out["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "t", "content": "r", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "also this"},
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ("", {}),
        (None, {}),
        ("  ", {}),
        ('{"a": 1', {"_raw": '{"a": 1'}),  # invalid JSON is kept verbatim, not dropped
        ("[1, 2]", {"_raw": "[1, 2]"}),  # Anthropic input must be an object
        ({"already": "dict"}, {"already": "dict"}),
    ],
)
def test_tool_call_arguments(arguments: Any, expected: dict[str, Any]) -> None:
    assert parse_arguments(arguments) == expected


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            False,
            {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        ),
        ("none", False, {"type": "none"}),
        ("auto", True, {"type": "auto"}),
        (None, None, None),
    ],
)
def test_tool_choice(tool_choice: Any, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    body: dict[str, Any] = {"messages": [user()], "tools": [WEATHER_TOOL]}
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    # the curated spec predates tool_choice {"type": "none"}
    out = build(body, validate=expected is None or expected["type"] != "none")
    assert out.get("tool_choice") == expected


def test_tool_choice_without_tools_is_omitted_and_bad_tool_choice_raises() -> None:
    assert "tool_choice" not in build({"messages": [user()], "tool_choice": "required"})
    with pytest.raises(UpstreamError):
        build({"messages": [user()], "tools": [WEATHER_TOOL], "tool_choice": "sometimes"})


def test_native_tools_and_tool_cache_control_pass_through() -> None:
    web = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
    cached = {**WEATHER_TOOL, "cache_control": {"type": "ephemeral"}}
    out = build({"messages": [user()], "tools": [cached, web]})
    assert out["tools"][0]["cache_control"] == {"type": "ephemeral"}
    assert out["tools"][1] == web


# --- response_format / reasoning ----------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
JSON_SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "City", "strict": True, "schema": SCHEMA},
}


def test_json_schema_native_output_config() -> None:
    body = {"messages": [user()], "response_format": JSON_SCHEMA_FORMAT}
    out = build(body, validate=False, config={"json_schema_mode": "native"})
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert "tools" not in out and "tool_choice" not in out
    assert PROVIDER.build_request(body, target(config={"json_schema_mode": "native"})).adjustments == []


def test_json_schema_defaults_to_the_forced_tool() -> None:
    # native structured outputs exist only on newer Claude models; the registry says which (structured_output)
    body = {"messages": [user()], "response_format": JSON_SCHEMA_FORMAT}
    out = build(body)
    assert out["tool_choice"] == {"type": "tool", "name": JSON_TOOL} and "output_config" not in out
    assert PROVIDER.build_request(body, target()).adjustments == [
        "response_format json_schema → forced tool (no native structured outputs here)"
    ]


def test_json_schema_tool_mode_forces_reserved_tool() -> None:
    out = build(
        {"messages": [user()], "response_format": JSON_SCHEMA_FORMAT}, config={"json_schema_mode": "tool"}
    )
    assert out["tools"] == [
        {"name": JSON_TOOL, "description": "Respond with the final answer as City.", "input_schema": SCHEMA}
    ]
    assert out["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    assert "output_config" not in out


def test_json_schema_tool_mode_with_user_tools_keeps_their_choice() -> None:
    out = build(
        {
            "messages": [user()],
            "response_format": JSON_SCHEMA_FORMAT,
            "tools": [WEATHER_TOOL],
            "tool_choice": "auto",
        },
        config={"json_schema_mode": "tool"},
    )
    assert [t["name"] for t in out["tools"]] == ["get_weather", JSON_TOOL]
    assert out["tool_choice"] == {"type": "auto"}


def test_text_format_sends_nothing() -> None:
    out = build({"messages": [user()], "response_format": {"type": "text"}})
    assert "output_config" not in out and "tools" not in out


@pytest.mark.parametrize("mode", ["native", "tool", None])
def test_json_object_is_a_forced_tool_never_dropped(mode: str | None) -> None:
    body = {"messages": [user()], "response_format": {"type": "json_object"}}
    config = {"json_schema_mode": mode} if mode else {}
    out = build(body, config=config)
    assert out["tools"] == [
        {
            "name": JSON_TOOL,
            "description": "Respond with the final answer as json_object.",
            "input_schema": {"type": "object"},
        }
    ]
    assert out["tool_choice"] == {"type": "tool", "name": JSON_TOOL} and "output_config" not in out
    assert PROVIDER.build_request(body, target(config=config)).adjustments == [
        "response_format json_object → forced tool"
    ]


@pytest.mark.parametrize("effort", ["minimal", "low", "medium", "high"])
def test_reasoning_effort_budget_and_default_max_tokens(effort: str) -> None:
    out = build(
        {"messages": [user()], "reasoning_effort": effort, "temperature": 0.2, "top_k": 5, "top_p": 0.5}
    )
    budget = THINKING_BUDGETS[effort]
    assert budget >= 1024
    assert out["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert out["max_tokens"] == 4096 + budget > budget
    # Anthropic rejects these with thinking enabled
    assert "temperature" not in out and "top_k" not in out and out["top_p"] == 0.95


def test_reasoning_raises_small_explicit_max_tokens_and_keeps_large_one() -> None:
    small = build({"messages": [user()], "reasoning_effort": "high", "max_completion_tokens": 1000})
    assert small["max_tokens"] == 1000 + 16384
    large = build({"messages": [user()], "reasoning_effort": "low", "max_tokens": 30000})
    assert large["max_tokens"] == 30000 and large["thinking"]["budget_tokens"] == 2048


def test_reasoning_budget_fits_under_max_output() -> None:
    out = build({"messages": [user()], "reasoning_effort": "high"}, config={"max_output": 8192})
    assert out["max_tokens"] == 8192
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 8192 - 1024}
    tiny = build({"messages": [user()], "reasoning_effort": "low"}, config={"max_output": 1500})
    assert tiny["max_tokens"] == 1500 and "thinking" not in tiny


def test_reasoning_none_and_adaptive_mode_and_native_thinking_passthrough() -> None:
    assert "thinking" not in build({"messages": [user()], "reasoning_effort": "none"})
    adaptive = build(
        {"messages": [user()], "reasoning_effort": "medium"},
        validate=False,
        config={"thinking_mode": "adaptive"},
    )
    assert adaptive["thinking"] == {"type": "adaptive"}
    assert adaptive["output_config"] == {"effort": "medium"}
    assert adaptive["max_tokens"] == 4096
    native = build(
        {"messages": [user()], "thinking": {"type": "enabled", "budget_tokens": 5000}, "max_tokens": 2000}
    )
    assert native["thinking"] == {"type": "enabled", "budget_tokens": 5000} and native["max_tokens"] == 7000


def test_thinking_blocks_round_trip_into_assistant_message() -> None:
    out = build(
        {
            "messages": [
                user("q"),
                {
                    "role": "assistant",
                    "content": "answer",
                    "reasoning_content": "hmm",
                    "thinking_blocks": [
                        {"type": "thinking", "thinking": "hmm", "signature": "sig=="},
                        {"type": "redacted_thinking", "data": "opaque"},
                        {"type": "thinking", "thinking": "unsigned, cannot be replayed"},
                    ],
                    "tool_calls": [
                        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "t", "content": "r"},
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "reasoning_effort": "low",
        }
    )
    assert out["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "answer"},
        {"type": "tool_use", "id": "t", "name": "f", "input": {}},
    ]


# --- scalars and dropped params -----------------------------------------------------------------


@pytest.mark.parametrize(("stop", "expected"), [("END", ["END"]), (["a", "b"], ["a", "b"]), (None, None)])
def test_stop_sequences(stop: Any, expected: list[str] | None) -> None:
    assert build({"messages": [user()], "stop": stop}).get("stop_sequences") == expected


@pytest.mark.parametrize(
    ("params", "config", "expected"),
    [
        ({}, {}, 4096),
        ({"max_tokens": 100}, {}, 100),
        ({"max_completion_tokens": 200, "max_tokens": 100}, {}, 200),
        ({}, {"max_output": 2048}, 2048),
        ({"max_tokens": 100000}, {"max_output": 64000}, 64000),
    ],
)
def test_max_tokens(params: dict[str, Any], config: dict[str, Any], expected: int) -> None:
    assert build({"messages": [user()], **params}, config=config)["max_tokens"] == expected


def test_sampling_user_and_dropped_openai_only_params() -> None:
    out = build(
        {
            "messages": [user()],
            "temperature": 0.3,
            "top_p": 0.9,
            "top_k": 40,
            "user": "user-123",
            "n": 1,
            "logprobs": True,
            "top_logprobs": 2,
            "logit_bias": {"1": 2},
            "presence_penalty": 0.1,
            "frequency_penalty": 0.1,
            "seed": 7,
            "service_tier": "auto",
            "store": True,
            "metadata": {"k": "v"},
            "stream_options": {"include_usage": True},
        }
    )
    assert out == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4096,
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "metadata": {"user_id": "user-123"},
    }


@pytest.mark.parametrize("body_extra", [{"n": 2}, {"functions": [{"name": "f"}]}])
def test_unhonourable_params_raise_400(body_extra: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as e:
        build({"messages": [user()], **body_extra})
    assert (e.value.status, e.value.kind) == (400, "bad_request")
    assert e.value.message


def test_unknown_role_raises() -> None:
    with pytest.raises(UpstreamError):
        build({"messages": [{"role": "function", "name": "f", "content": "x"}]})
