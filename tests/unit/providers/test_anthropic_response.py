"""Anthropic message JSON / error bodies → OpenAI chat.completion / UpstreamError."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from support.wire import WIRE
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.anthropic.request import JSON_TOOL
from switchyard.providers.base import Target, UpstreamError

FIXTURES = WIRE / "anthropic"
PROVIDER = AnthropicProvider()


def exchange(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def response_bytes(name: str) -> bytes:
    return orjson.dumps(exchange(name)["response"]["body"])


def message(content: list[dict[str, Any]], stop_reason: str = "end_turn", **usage: int) -> bytes:
    return orjson.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5, **usage},
        }
    )


# --- recorded responses -------------------------------------------------------------------------


def test_recorded_text_message() -> None:
    out = PROVIDER.parse_response(response_bytes("messages.json"))
    created = out.pop("created")
    assert isinstance(created, int) and created > 1_600_000_000
    assert out == {
        "id": "msg_01Fg1JVgvCYUHWsxrj9GkpEv",
        "object": "chat.completion",
        "model": "claude-3-opus-20240229",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "The capital of France is Paris.",
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": 10,
            "total_tokens": 30,
            "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        },
    }


def test_recorded_tool_use_message() -> None:
    rec = exchange("messages_tool_use.json")["response"]["body"]
    out = PROVIDER.parse_response(response_bytes("messages_tool_use.json"))
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "toolu_01X9wcHKKAZD9tBC711xipPa",
            "type": "function",
            "function": {"name": "get_user_country", "arguments": "{}"},
        }
    ]
    args = choice["message"]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(args) == rec["content"][0]["input"]
    assert out["usage"]["prompt_tokens"] == 445 and out["usage"]["completion_tokens"] == 23
    assert out["model"] == "claude-sonnet-4-5-20250929"


# --- synthetic shapes (built from the spec's Message schema) ------------------------------------


def test_text_blocks_joined_and_tool_calls_compact_json() -> None:
    out = PROVIDER.parse_response(
        message(
            [
                {"type": "text", "text": "Checking "},
                {"type": "text", "text": "both."},
                {
                    "type": "tool_use",
                    "id": "toolu_a",
                    "name": "get_weather",
                    "input": {"city": "Paris", "n": [1, 2]},
                },
                {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {"city": "Rome"}},
            ],
            "tool_use",
        )
    )
    msg = out["choices"][0]["message"]
    assert msg["content"] == "Checking both."
    assert [c["function"]["arguments"] for c in msg["tool_calls"]] == [
        '{"city":"Paris","n":[1,2]}',
        '{"city":"Rome"}',
    ]
    assert [c["id"] for c in msg["tool_calls"]] == ["toolu_a", "toolu_b"]
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def test_thinking_blocks_kept_for_round_trip() -> None:
    out = PROVIDER.parse_response(
        message(
            [
                {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"},
                {"type": "text", "text": "42"},
            ]
        )
    )
    msg = out["choices"][0]["message"]
    assert msg["content"] == "42"
    assert msg["reasoning_content"] == "Let me think."
    assert msg["thinking_blocks"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"},
    ]
    # the blocks go back upstream unchanged on the next turn
    req = PROVIDER.build_request(
        {"messages": [{"role": "user", "content": "q"}, msg, {"role": "user", "content": "and?"}]},
        Target("anthropic", "claude-x", "anthropic", "https://api.anthropic.com/v1", "k", "x-api-key"),
    )
    sent = orjson.loads(req.body)["messages"][1]["content"]
    assert sent == [*msg["thinking_blocks"], {"type": "text", "text": "42"}]


def test_no_thinking_no_reasoning_fields() -> None:
    msg = PROVIDER.parse_response(message([{"type": "text", "text": "x"}]))["choices"][0]["message"]
    assert "reasoning_content" not in msg and "thinking_blocks" not in msg and "tool_calls" not in msg


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
        ("something_new", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reason(stop_reason: str | None, finish: str) -> None:
    out = PROVIDER.parse_response(message([{"type": "text", "text": "x"}], stop_reason))  # type: ignore[arg-type]
    assert out["choices"][0]["finish_reason"] == finish


def test_usage_includes_cache_tokens_in_prompt() -> None:
    out = PROVIDER.parse_response(
        message(
            [{"type": "text", "text": "x"}], cache_read_input_tokens=1000, cache_creation_input_tokens=200
        )
    )
    assert out["usage"] == {
        "prompt_tokens": 1210,
        "completion_tokens": 5,
        "total_tokens": 1215,
        "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 200},
    }


def test_json_tool_becomes_content() -> None:
    out = PROVIDER.parse_response(
        message([{"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"city": "Paris"}}], "tool_use")
    )
    choice = out["choices"][0]
    assert choice["message"]["content"] == '{"city":"Paris"}'
    assert "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "stop"


def test_non_json_and_error_bodies_in_a_200() -> None:
    with pytest.raises(UpstreamError) as e:
        PROVIDER.parse_response(b"<html>oops</html>")
    assert e.value.kind == "server" and e.value.status == 502
    body = orjson.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    with pytest.raises(UpstreamError) as e:
        PROVIDER.parse_response(body)
    assert e.value.kind == "overloaded" and e.value.message == "Overloaded"


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "etype", "message"),
    [
        (
            "error_400_invalid_request.json",
            "bad_request",
            "invalid_request_error",
            "messages.0: Input does not match the expected shape.",
        ),
        ("error_401_authentication.json", "auth", "authentication_error", "invalid x-api-key"),
        ("error_404_not_found.json", "not_found", "not_found_error", "model: claude-sonet-4-5"),
    ],
)
def test_recorded_errors(name: str, kind: str, etype: str, message: str) -> None:
    resp = exchange(name)["response"]
    body = orjson.dumps(resp["body"])
    err = PROVIDER.parse_error(resp["status"], resp["headers"], body)
    assert isinstance(err, UpstreamError)
    assert (err.status, err.kind, err.type, err.message) == (resp["status"], kind, etype, message)
    assert err.body == body
    assert err.retry_after is None


def _err(etype: str, message: str) -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": etype, "message": message}})


@pytest.mark.parametrize(
    ("status", "etype", "message", "kind"),
    [
        (529, "overloaded_error", "Overloaded", "overloaded"),
        (500, "overloaded_error", "Overloaded", "overloaded"),
        (
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            "rate_limited",
        ),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 208310 tokens > 200000 maximum",
            "context_length",
        ),
        (
            400,
            "invalid_request_error",
            "input length and `max_tokens` exceed context limit: 197463 + 8192 > 200000",
            "context_length",
        ),
        (413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", "bad_request"),
        (403, "permission_error", "Your API key does not have permission", "auth"),
        (500, "api_error", "Internal server error", "server"),
        (504, "timeout_error", "Request timed out", "timeout"),
    ],
)
def test_error_classification(status: int, etype: str, message: str, kind: str) -> None:
    err = PROVIDER.parse_error(status, {}, _err(etype, message))
    assert (err.status, err.kind, err.type, err.message) == (status, kind, etype, message)


def test_retry_after_header_any_case() -> None:
    err = PROVIDER.parse_error(429, {"Retry-After": "7"}, _err("rate_limit_error", "slow down"))
    assert err.retry_after == 7.0 and err.kind == "rate_limited"
    err = PROVIDER.parse_error(529, {"retry-after-ms": "1500"}, _err("overloaded_error", "Overloaded"))
    assert err.retry_after == 1.5


@pytest.mark.parametrize("body", [b"", b"<html>Bad Gateway</html>", b'{"detail": "x"}', b"[1]"])
def test_non_envelope_error_body(body: bytes) -> None:
    err = PROVIDER.parse_error(502, {}, body)
    assert (err.status, err.kind, err.message) == (502, "server", "Anthropic returned HTTP 502")
    assert err.body == body
