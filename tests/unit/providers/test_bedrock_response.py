"""Bedrock Converse response / error → OpenAI chat.completion / UpstreamError. SYNTHETIC fixtures."""

from __future__ import annotations

import json

import orjson
import pytest

from support.wire import exchange
from switchyard.providers.base import UpstreamError
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.bedrock.response import error_type, parse_error, parse_response

NOW = 1_700_000_000
provider = BedrockProvider(clock=lambda: NOW)


def body_of(name: str) -> bytes:
    return orjson.dumps(exchange(f"bedrock/{name}.json")["response"]["body"])


def converse(content: list[dict], stop: str = "end_turn", **extra) -> bytes:
    return orjson.dumps(
        {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop, **extra}
    )


def test_text_response():
    out = provider.parse_response(body_of("converse_text"))
    assert out["object"] == "chat.completion"
    assert out["id"].startswith("chatcmpl-")
    assert out["created"] == NOW
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help you today?", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert out["usage"] == {
        "prompt_tokens": 161,  # 11 input + 120 cache read + 30 cache write
        "completion_tokens": 12,
        "total_tokens": 173,
        "prompt_tokens_details": {"cached_tokens": 120, "cache_write_tokens": 30},
    }


def test_tool_use_response_compact_arguments():
    out = provider.parse_response(body_of("converse_tool_use"))
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I'll look that up."
    assert choice["message"]["tool_calls"] == [
        {
            "id": "tooluse_Xh2n1Y7fQ6iSx4y0GdQw4A",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris","units":["c"]}'},
        }
    ]
    assert out["usage"]["prompt_tokens"] == 402 and out["usage"]["completion_tokens"] == 55


def test_tool_only_response_has_null_content():
    out = parse_response(
        converse([{"toolUse": {"toolUseId": "t", "name": "f", "input": {}}}], "tool_use"), created=0
    )
    msg = out["choices"][0]["message"]
    assert msg["content"] is None
    assert msg["tool_calls"][0]["function"]["arguments"] == "{}"


def test_reasoning_response():
    msg = provider.parse_response(body_of("converse_reasoning"))["choices"][0]["message"]
    assert msg["content"] == "2 + 2 = 4."
    assert msg["reasoning_content"] == "Simple arithmetic: 2+2=4."
    assert msg["thinking_blocks"] == [
        {
            "type": "thinking",
            "thinking": "Simple arithmetic: 2+2=4.",
            "signature": "EqoBCkgIARABGAIiQGx0c2lnbmF0dXJl",
        },
        {"type": "redacted_thinking", "data": "ZW5jcnlwdGVkLXJlYXNvbmluZw=="},
    ]


def test_multiple_text_blocks_are_joined():
    out = parse_response(converse([{"text": "a"}, {"text": "b"}]), created=0)
    assert out["choices"][0]["message"]["content"] == "ab"
    assert "usage" not in out


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_finish_reasons(stop: str, expected: str):
    out = parse_response(converse([{"text": "x"}], stop), created=0)
    assert out["choices"][0]["finish_reason"] == expected


def test_json_tool_becomes_content():
    content = [{"toolUse": {"toolUseId": "t", "name": "switchyard_json_response", "input": {"answer": 4}}}]
    out = parse_response(converse(content, "tool_use"), created=0)
    choice = out["choices"][0]
    assert choice["message"]["content"] == '{"answer":4}'
    assert "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "stop"


def test_model_is_passed_through_when_known():
    assert parse_response(converse([{"text": "x"}]), created=0, model="amazon.nova-pro-v1:0")["model"] == (
        "amazon.nova-pro-v1:0"
    )


@pytest.mark.parametrize("body", [b"not json", b"[1]"])
def test_bad_body_raises(body: bytes):
    with pytest.raises(UpstreamError) as info:
        provider.parse_response(body)
    assert (info.value.status, info.value.kind) == (502, "server")


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "etype"),
    [
        ("error_429_throttling", "rate_limited", "ThrottlingException"),
        ("error_400_validation", "bad_request", "ValidationException"),
        ("error_400_too_long", "context_length", "ValidationException"),
        ("error_403_access_denied", "auth", "AccessDeniedException"),
        ("error_403_unrecognized_client", "auth", "UnrecognizedClientException"),
        ("error_404_not_found", "not_found", "ResourceNotFoundException"),
        ("error_408_model_timeout", "timeout", "ModelTimeoutException"),
        ("error_429_model_not_ready", "overloaded", "ModelNotReadyException"),
        ("error_503_unavailable", "overloaded", "ServiceUnavailableException"),
        ("error_500_internal", "server", "InternalServerException"),
    ],
)
def test_error_fixtures(name: str, kind: str, etype: str):
    ex = exchange(f"bedrock/{name}.json")
    resp = ex["response"]
    err = provider.parse_error(resp["status"], resp["headers"], json.dumps(resp["body"]).encode())
    assert err.status == resp["status"]
    assert err.kind == kind
    assert err.type == etype
    assert err.message == resp["body"]["message"]


@pytest.mark.parametrize(
    "message",
    [
        "Input is too long for requested model.",
        "prompt is too long: 210000 tokens > 200000 maximum",
        "The model returned the following errors: input length and `max_tokens` exceed context limit",
        "Too many input tokens. Max input tokens: 8192, request input token count: 9000",
    ],
)
def test_validation_context_length(message: str):
    err = parse_error(400, {"x-amzn-ErrorType": "ValidationException"}, orjson.dumps({"message": message}))
    assert err.kind == "context_length"


def test_error_type_from_body_when_header_missing():
    body = orjson.dumps({"__type": "com.amazon.coral.service#ThrottlingException", "message": "slow"})
    err = parse_error(400, {}, body)
    assert (err.kind, err.type) == ("rate_limited", "ThrottlingException")


def test_capitalized_message_and_retry_after():
    err = parse_error(429, {"Retry-After": "3"}, orjson.dumps({"Message": "Rate exceeded"}))
    assert (err.kind, err.message, err.retry_after) == ("rate_limited", "Rate exceeded", 3.0)


def test_unknown_type_falls_back_to_status():
    assert parse_error(502, {"x-amzn-errortype": "Weird"}, b"").kind == "server"
    assert parse_error(409, {"x-amzn-errortype": "ConflictException"}, b"{}").kind == "bad_request"


def test_non_json_error_body():
    err = parse_error(500, {}, b"<html>Bad Gateway</html>")
    assert (err.kind, err.message) == ("server", "<html>Bad Gateway</html>")
    assert parse_error(500, {}, b"").message == "HTTP 500 from Bedrock"


def test_error_type_parsing():
    assert error_type("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/") == (
        "ValidationException"
    )
    assert error_type("com.amazon.coral.service#AccessDeniedException") == "AccessDeniedException"
    assert error_type("") is None and error_type(None) is None
