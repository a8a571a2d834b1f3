"""OpenAI chat body → Bedrock Converse request."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from switchyard.providers.base import Target, UpstreamError
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.bedrock.messages import tool_use_id
from switchyard.providers.bedrock.request import base_url, family, model_id, region

CLAUDE = "anthropic.claude-sonnet-4-20250514-v1:0"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
provider = BedrockProvider(clock=lambda: 0)


def target(
    model: str = CLAUDE, base: str = "https://bedrock-runtime.{region}.amazonaws.com", **config: Any
) -> Target:
    return Target("bedrock", model, "bedrock", base, "AKIDEXAMPLE", "aws-sigv4", config)


def build(body: dict[str, Any], t: Target | None = None) -> dict[str, Any]:
    req = provider.build_request({"model": "x", **body}, t or target())
    return orjson.loads(req.body)


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


# --- endpoint ------------------------------------------------------------------------------------


def test_url_and_headers_non_stream():
    req = provider.build_request({"messages": [user("hi")]}, target(region="eu-west-1"))
    assert req.method == "POST"
    assert req.url == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
    )
    assert req.headers == {"content-type": "application/json", "accept": "application/json"}
    assert req.stream is False
    assert "authorization" not in req.headers  # sign() adds it
    assert "modelId" not in orjson.loads(req.body)  # the model travels in the path


def test_url_stream_default_region_and_extra_headers():
    t = Target(
        "bedrock",
        "meta.llama3-3-70b-instruct-v1:0",
        "bedrock",
        "https://bedrock-runtime.{region}.amazonaws.com",
        headers={"x-extra": "1"},
    )
    req = provider.build_request({"messages": [user("hi")], "stream": True}, t)
    assert req.url == (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/meta.llama3-3-70b-instruct-v1%3A0/converse-stream"
    )
    assert req.headers["accept"] == "application/vnd.amazon.eventstream"
    assert req.headers["x-extra"] == "1"
    assert req.stream is True
    assert "stream" not in orjson.loads(req.body)


def test_default_region_option_and_empty_base_url():
    t = Target("bedrock", "amazon.nova-pro-v1:0", "bedrock", "", config={"default_region": "us-west-2"})
    assert region(t) == "us-west-2"
    assert base_url(t) == "https://bedrock-runtime.us-west-2.amazonaws.com"


def test_endpoint_override_wins():
    t = target(endpoint="http://127.0.0.1:9999/", region="ap-southeast-2")
    req = provider.build_request({"messages": [user("hi")]}, t)
    assert req.url == "http://127.0.0.1:9999/model/anthropic.claude-sonnet-4-20250514-v1%3A0/converse"


def test_region_read_from_explicit_host():
    t = target(base="https://bedrock-runtime.eu-central-1.amazonaws.com")
    assert region(t) == "eu-central-1"
    assert base_url(t) == "https://bedrock-runtime.eu-central-1.amazonaws.com"


@pytest.mark.parametrize(
    ("model", "prefix", "expected"),
    [
        (CLAUDE, "us", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
        (
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "eu",
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        ),
        ("apac.amazon.nova-pro-v1:0", "us", "apac.amazon.nova-pro-v1:0"),
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "us",
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        ("amazon.nova-pro-v1:0", "apac", "apac.amazon.nova-pro-v1:0"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0",
            "us",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0",
        ),
        ("mistral.mistral-large-2407-v1:0", None, "mistral.mistral-large-2407-v1:0"),
    ],
)
def test_cross_region_prefix(model: str, prefix: str | None, expected: str):
    assert model_id(target(model, cross_region=prefix)) == expected


def test_arn_is_quoted_whole():
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    req = provider.build_request({"messages": [user("hi")]}, target(arn))
    assert req.url.endswith(
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123/converse"
    )


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (CLAUDE, "anthropic"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic"),
        ("amazon.nova-pro-v1:0", "amazon"),
        ("meta.llama3-3-70b-instruct-v1:0", "meta"),
        ("arn:aws:bedrock:us-east-1:1:inference-profile/eu.mistral.pixtral-large-2502-v1:0", "mistral"),
        ("arn:aws:bedrock:us-east-1:1:application-inference-profile/abc123", ""),
    ],
)
def test_family(model: str, expected: str):
    assert family(target(model)) == expected
    assert family(target(model, family="anthropic")) == "anthropic"


# --- messages ------------------------------------------------------------------------------------


def test_system_developer_and_cache_points():
    out = build(
        {
            "messages": [
                {"role": "system", "content": "You are terse.", "cache_control": {"type": "ephemeral"}},
                {
                    "role": "developer",
                    "content": [
                        {
                            "type": "text",
                            "text": "Rule 2",
                            "cache_control": {"type": "ephemeral", "ttl": "1h"},
                        }
                    ],
                },
                user("hi"),
            ]
        }
    )
    assert out["system"] == [
        {"text": "You are terse."},
        {"cachePoint": {"type": "default"}},
        {"text": "Rule 2"},
        {"cachePoint": {"type": "default", "ttl": "1h"}},
    ]
    assert out["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]


def test_user_cache_control_on_message():
    out = build(
        {"messages": [{"role": "user", "content": "long doc", "cache_control": {"type": "ephemeral"}}]}
    )
    assert out["messages"][0]["content"] == [{"text": "long doc"}, {"cachePoint": {"type": "default"}}]


def test_consecutive_same_role_merge_and_alternation():
    out = build(
        {
            "messages": [
                user("a"),
                user([{"type": "text", "text": "b"}]),
                {"role": "assistant", "content": "c"},
                {"role": "assistant", "content": "d"},
                user("e"),
            ]
        }
    )
    assert out["messages"] == [
        {"role": "user", "content": [{"text": "a"}, {"text": "b"}]},
        {"role": "assistant", "content": [{"text": "c"}, {"text": "d"}]},
        {"role": "user", "content": [{"text": "e"}]},
    ]


def test_blank_text_is_left_out():
    out = build(
        {
            "messages": [
                user("hi"),
                {"role": "assistant", "content": ""},
                user([{"type": "text", "text": "  "}, "x"]),
            ]
        }
    )
    assert out["messages"] == [{"role": "user", "content": [{"text": "hi"}, {"text": "x"}]}]


def test_image_data_url():
    out = build(
        {
            "messages": [
                user(
                    [
                        {"type": "text", "text": "what?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    ]
                )
            ]
        }
    )
    assert out["messages"][0]["content"] == [
        {"text": "what?"},
        {"image": {"format": "png", "source": {"bytes": PNG}}},
    ]


def test_image_jpeg_and_non_base64_data_url():
    out = build({"messages": [user([{"type": "image_url", "image_url": "data:image/jpeg,%FF%D8"}])]})
    assert out["messages"][0]["content"] == [
        {"image": {"format": "jpeg", "source": {"bytes": base64.b64encode(b"\xff\xd8").decode()}}}
    ]


def test_http_image_url_is_a_clear_400():
    with pytest.raises(UpstreamError) as info:
        build(
            {"messages": [user([{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}])]}
        )
    err = info.value
    assert (err.status, err.kind) == (400, "bad_request")
    assert "Bedrock does not fetch image URLs" in err.message and "base64 data: URL" in err.message


def test_unsupported_image_type_400():
    with pytest.raises(UpstreamError) as info:
        build(
            {"messages": [user([{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}])]}
        )
    assert info.value.status == 400


def test_pdf_file_becomes_document():
    pdf = base64.b64encode(b"%PDF-1.4").decode()
    part = {
        "type": "file",
        "file": {"filename": "Q3 report_final.v2.pdf", "file_data": f"data:application/pdf;base64,{pdf}"},
    }
    out = build({"messages": [user([part, {"type": "text", "text": "summarize"}])]})
    assert out["messages"][0]["content"][0] == {
        "document": {"format": "pdf", "name": "Q3 report-final-v2", "source": {"bytes": pdf}}
    }


def test_file_id_is_rejected():
    with pytest.raises(UpstreamError):
        build({"messages": [user([{"type": "file", "file": {"file_id": "file-123"}}])]})


def test_native_converse_block_passes_through():
    block = {"document": {"format": "txt", "name": "n", "source": {"bytes": "aGk="}}}
    out = build({"messages": [user([block])]})
    assert out["messages"][0]["content"] == [block]


def test_unknown_part_type_is_rejected_not_dropped():
    with pytest.raises(UpstreamError):
        build({"messages": [user([{"type": "video_url", "video_url": {"url": "x"}}])]})


def test_tool_round_trip():
    out = build(
        {
            "messages": [
                user("weather in Paris and Rome?"),
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "functions.get_weather:1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
                {"role": "tool", "tool_call_id": "functions.get_weather:1", "content": "sunny, 25C"},
                user("thanks"),
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Weather",
                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    },
                }
            ],
        }
    )
    assert out["messages"][1] == {
        "role": "assistant",
        "content": [
            {"text": "Checking."},
            {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
            {"toolUse": {"toolUseId": "functions_get_weather_1", "name": "get_weather", "input": {}}},
        ],
    }
    assert out["messages"][2] == {
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": "call_1", "content": [{"json": {"temp": 21}}]}},
            {"toolResult": {"toolUseId": "functions_get_weather_1", "content": [{"text": "sunny, 25C"}]}},
            {"text": "thanks"},
        ],
    }
    assert out["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Weather",
                    "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
                }
            }
        ]
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[1, 2]", [{"text": "[1, 2]"}]),
        ("42", [{"text": "42"}]),
        ("", [{"text": "(empty)"}]),
        (None, [{"text": "(empty)"}]),
        ([{"type": "text", "text": '{"ok": true}'}], [{"json": {"ok": True}}]),
        ([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], [{"text": "a"}, {"text": "b"}]),
        ({"ok": 1}, [{"json": {"ok": 1}}]),
    ],
)
def test_tool_result_content(content: Any, expected: list[dict]):
    out = build(
        {
            "messages": [
                user("q"),
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "t", "content": content},
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}],
        }
    )
    assert out["messages"][2]["content"][0]["toolResult"]["content"] == expected


def test_tool_results_lead_the_user_turn():
    out = build(
        {
            "messages": [
                user("q"),
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{}"}}],
                },
                user("first"),
                {"role": "tool", "tool_call_id": "t", "content": "r", "cache_control": {"type": "ephemeral"}},
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}],
        }
    )
    assert out["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": "t", "content": [{"text": "r"}]}},
        {"cachePoint": {"type": "default"}},
        {"text": "first"},
    ]


def test_invalid_arguments_are_kept_not_dropped():
    out = build(
        {
            "messages": [
                user("q"),
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{oops"}}],
                },
                {"role": "tool", "tool_call_id": "t", "content": "r"},
            ]
        }
    )
    assert out["messages"][1]["content"][0]["toolUse"]["input"] == {"_raw": "{oops"}


def test_thinking_blocks_go_back_as_reasoning_content():
    out = build(
        {
            "messages": [
                user("q"),
                {
                    "role": "assistant",
                    "content": "4",
                    "reasoning_content": "2+2",
                    "thinking_blocks": [
                        {"type": "thinking", "thinking": "2+2", "signature": "sig"},
                        {"type": "redacted_thinking", "data": "AAA="},
                        {"type": "thinking", "thinking": "unsigned"},
                    ],
                },
                user("next"),
            ]
        }
    )
    assert out["messages"][1]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "2+2", "signature": "sig"}}},
        {"reasoningContent": {"redactedContent": "AAA="}},
        {"text": "4"},
    ]


def test_no_messages_is_400():
    with pytest.raises(UpstreamError):
        build({"messages": [{"role": "system", "content": "only system"}]})


def test_bad_role_is_400():
    with pytest.raises(UpstreamError):
        build({"messages": [{"role": "wizard", "content": "x"}]})


def test_system_image_is_400():
    with pytest.raises(UpstreamError):
        build(
            {
                "messages": [
                    {
                        "role": "system",
                        "content": [
                            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
                        ],
                    },
                    user("x"),
                ]
            }
        )


def test_n_greater_than_one_is_400():
    with pytest.raises(UpstreamError) as info:
        build({"messages": [user("x")], "n": 2})
    assert info.value.param == "n"


# --- parameters ------------------------------------------------------------------------------------


def test_inference_config_and_unknown_params_dropped():
    out = build(
        {
            "messages": [user("x")],
            "max_tokens": 100,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": "END",
            "presence_penalty": 1,
            "logit_bias": {"1": 2},
            "user": "u",
            "seed": 3,
            "stream_options": {"include_usage": True},
        },
        target("mistral.mistral-large-2407-v1:0"),
    )
    assert out == {
        "messages": [{"role": "user", "content": [{"text": "x"}]}],
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]},
    }


def test_max_completion_tokens_wins_and_is_capped():
    out = build(
        {"messages": [user("x")], "max_completion_tokens": 99999, "max_tokens": 5}, target(max_output=8192)
    )
    assert out["inferenceConfig"]["maxTokens"] == 8192


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (CLAUDE, {"top_k": 40}),
        ("mistral.mistral-large-2407-v1:0", {"top_k": 40}),
        ("amazon.nova-pro-v1:0", {"inferenceConfig": {"topK": 40}}),
        ("meta.llama3-3-70b-instruct-v1:0", None),
    ],
)
def test_top_k(model: str, expected: dict | None):
    out = build({"messages": [user("x")], "top_k": 40}, target(model))
    assert out.get("additionalModelRequestFields") == expected


def test_reasoning_effort_for_claude():
    out = build(
        {"messages": [user("x")], "reasoning_effort": "medium", "temperature": 0.5, "top_p": 0.5, "top_k": 5}
    )
    assert out["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 8192}}
    assert out["inferenceConfig"] == {"maxTokens": 4096 + 8192, "topP": 0.95}


def test_reasoning_effort_keeps_a_larger_explicit_limit():
    out = build({"messages": [user("x")], "reasoning_effort": "low", "max_tokens": 20000})
    assert out["inferenceConfig"]["maxTokens"] == 20000
    assert out["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 2048


def test_reasoning_budget_fits_under_the_cap():
    out = build({"messages": [user("x")], "reasoning_effort": "high"}, target(max_output=8192))
    assert out["inferenceConfig"]["maxTokens"] == 8192
    assert out["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 8192 - 1024


def test_reasoning_effort_none_and_non_claude_are_ignored():
    assert "additionalModelRequestFields" not in build({"messages": [user("x")], "reasoning_effort": "none"})
    out = build({"messages": [user("x")], "reasoning_effort": "high"}, target("amazon.nova-pro-v1:0"))
    assert "additionalModelRequestFields" not in out and "inferenceConfig" not in out


def test_adaptive_thinking_mode():
    out = build({"messages": [user("x")], "reasoning_effort": "high"}, target(thinking_mode="adaptive"))
    assert out["additionalModelRequestFields"] == {"thinking": {"type": "adaptive"}}
    assert out["outputConfig"] == {"effort": "high"}


def test_service_tier_and_native_fields():
    guard = {"guardrailIdentifier": "g1", "guardrailVersion": "1"}
    out = build(
        {
            "messages": [user("x")],
            "service_tier": "flex",
            "guardrailConfig": guard,
            "performanceConfig": {"latency": "optimized"},
        }
    )
    assert out["serviceTier"] == {"type": "flex"}
    assert out["guardrailConfig"] == guard
    assert out["performanceConfig"] == {"latency": "optimized"}
    assert "serviceTier" not in build({"messages": [user("x")], "service_tier": "auto"})


# --- tools -----------------------------------------------------------------------------------------


TOOLS = [
    {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object"}},
        "cache_control": {"type": "ephemeral"},
    },
    {"type": "function", "function": {"name": "g"}},
]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, None),
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        ({"type": "function", "function": {"name": "g"}}, {"tool": {"name": "g"}}),
        ({"tool": {"name": "f"}}, {"tool": {"name": "f"}}),
    ],
)
def test_tool_choice(choice: Any, expected: dict | None):
    body: dict[str, Any] = {"messages": [user("x")], "tools": TOOLS}
    if choice is not None:
        body["tool_choice"] = choice
    config = build(body)["toolConfig"]
    assert config["tools"] == [
        {"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}},
        {"cachePoint": {"type": "default"}},
        {"toolSpec": {"name": "g", "inputSchema": {"json": {"type": "object", "properties": {}}}}},
    ]
    assert config.get("toolChoice") == expected


def test_tool_choice_none_without_history_omits_tool_config():
    assert "toolConfig" not in build({"messages": [user("x")], "tools": TOOLS, "tool_choice": "none"})


def test_tool_choice_none_with_history_keeps_tools():
    out = build(
        {
            "messages": [
                user("q"),
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "t", "content": "r"},
            ],
            "tools": TOOLS,
            "tool_choice": "none",
        }
    )
    assert [t.get("toolSpec", {}).get("name") for t in out["toolConfig"]["tools"]] == ["f", None, "g"]
    assert "toolChoice" not in out["toolConfig"]


def test_tool_history_without_tools_gets_stub_declarations():
    out = build(
        {
            "messages": [
                user("q"),
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "a", "function": {"name": "search", "arguments": "{}"}},
                        {"id": "b", "function": {"name": "search", "arguments": "{}"}},
                        {"id": "c", "function": {"name": "fetch", "arguments": "{}"}},
                    ],
                },
                {"role": "tool", "tool_call_id": "a", "content": "1"},
                {"role": "tool", "tool_call_id": "b", "content": "2"},
                {"role": "tool", "tool_call_id": "c", "content": "3"},
            ]
        }
    )
    assert out["toolConfig"] == {
        "tools": [
            {"toolSpec": {"name": "search", "inputSchema": {"json": {"type": "object"}}}},
            {"toolSpec": {"name": "fetch", "inputSchema": {"json": {"type": "object"}}}},
        ]
    }
    assert len(out["messages"][2]["content"]) == 3  # every result kept


def test_unsupported_tool_type_is_400():
    with pytest.raises(UpstreamError):
        build({"messages": [user("x")], "tools": [{"type": "web_search"}]})


def test_tool_choice_without_tools_is_400():
    with pytest.raises(UpstreamError):
        build({"messages": [user("x")], "tool_choice": "required"})


def test_native_tool_passes_through():
    native = {"toolSpec": {"name": "n", "inputSchema": {"json": {}}}}
    assert build({"messages": [user("x")], "tools": [native]})["toolConfig"]["tools"] == [native]


def test_tool_use_id_sanitizing():
    assert tool_use_id("call_ABC-1") == "call_ABC-1"
    assert tool_use_id("functions.f:0") == "functions_f_0"
    assert len(tool_use_id("x" * 100)) == 64
    assert tool_use_id(None) == "call"


# --- response_format --------------------------------------------------------------------------------


SCHEMA = {"type": "object", "properties": {"answer": {"type": "number"}}, "required": ["answer"]}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "math", "schema": SCHEMA}}


def test_json_schema_as_forced_tool():
    out = build({"messages": [user("2+2?")], "response_format": JSON_SCHEMA})
    assert out["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "switchyard_json_response",
                    "description": "Respond with the final answer as math.",
                    "inputSchema": {"json": SCHEMA},
                }
            }
        ],
        "toolChoice": {"tool": {"name": "switchyard_json_response"}},
    }


def test_json_schema_tool_is_not_forced_with_thinking_or_other_tools():
    out = build({"messages": [user("x")], "response_format": JSON_SCHEMA, "reasoning_effort": "low"})
    assert out["toolConfig"]["toolChoice"] == {"auto": {}}
    out = build(
        {"messages": [user("x")], "response_format": JSON_SCHEMA, "tools": TOOLS, "tool_choice": "auto"}
    )
    assert out["toolConfig"]["tools"][-1]["toolSpec"]["name"] == "switchyard_json_response"
    assert out["toolConfig"]["toolChoice"] == {"auto": {}}


def test_json_schema_native_mode():
    out = build({"messages": [user("x")], "response_format": JSON_SCHEMA}, target(json_schema_mode="native"))
    assert "toolConfig" not in out
    fmt = out["outputConfig"]["textFormat"]
    assert fmt["type"] == "json_schema"
    assert fmt["structure"]["jsonSchema"]["name"] == "math"
    assert orjson.loads(fmt["structure"]["jsonSchema"]["schema"]) == SCHEMA


@pytest.mark.parametrize("mode", ["native", "tool"])
def test_json_object_is_a_forced_tool_never_dropped(mode):
    body = {"messages": [user("x")], "response_format": {"type": "json_object"}}
    out = build(body, target(json_schema_mode=mode))
    assert "outputConfig" not in out
    assert out["toolConfig"]["tools"] == [
        {
            "toolSpec": {
                "name": "switchyard_json_response",
                "description": "Respond with the final answer as json_object.",
                "inputSchema": {"json": {"type": "object"}},
            }
        }
    ]
    assert out["toolConfig"]["toolChoice"] == {"tool": {"name": "switchyard_json_response"}}
    assert provider.build_request({"model": "x", **body}, target(json_schema_mode=mode)).adjustments == [
        "response_format json_object → forced tool"
    ]
