"""Gemini generateContent JSON → OpenAI chat.completion; errors → UpstreamError."""

from __future__ import annotations

import json

import orjson
import pytest

from support.wire import WIRE
from switchyard.providers.base import UpstreamError
from switchyard.providers.gemini import GeminiProvider

FIXTURES = WIRE / "gemini"
NOW = 1_700_000_000


def provider() -> GeminiProvider:
    return GeminiProvider(clock=lambda: NOW)


def parse(data: dict) -> dict:
    return provider().parse_response(orjson.dumps(data))


def exchange(name: str) -> dict:
    assert FIXTURES is not None
    return json.loads((FIXTURES / name).read_text())


def usage(prompt=0, completion=0, total=0, cached=0, reasoning=0) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


# --- golden: recorded responses ----------------------------------------------------------------


def test_fixture_text_response():
    out = parse(exchange("generate_content.json")["response"]["body"])
    assert out == {
        "id": "bzlXaa_EE_aHqtsPi_zw8Ao",
        "object": "chat.completion",
        "created": NOW,
        "model": "gemini-2.5-flash",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello! How can I help you today?",
                    "refusal": None,
                },
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage(prompt=9, completion=43, total=52, reasoning=34),
    }


def test_fixture_function_call_response():
    out = parse(exchange("generate_content_function_call.json")["response"]["body"])
    assert out["id"] == "LlteaIDvD9m7nvgPz5Sb0Aw"
    assert out["model"] == "gemini-2.0-flash"
    assert out["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": "get_user_country", "arguments": "{}"},
                    }
                ],
            },
            "finish_reason": "tool_calls",
            "logprobs": None,
        }
    ]
    assert out["usage"] == usage(prompt=33, completion=5, total=38)


def test_fixture_404_error():
    rec = exchange("error_404_model_not_found.json")["response"]
    err = provider().parse_error(rec["status"], rec["headers"], orjson.dumps(rec["body"]))
    assert (err.status, err.kind, err.type, err.code) == (404, "not_found", "NOT_FOUND", 404)
    assert err.message.startswith("models/gemini-3.6-flahs is not found")
    assert err.retry_after is None


# --- candidates and parts ----------------------------------------------------------------------


def test_thoughts_go_to_reasoning_content_and_text_parts_join():
    out = parse(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "Let me think. ", "thought": True},
                            {"text": "Hello "},
                            {"text": "there"},
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 4,
                "candidatesTokenCount": 2,
                "thoughtsTokenCount": 5,
                "totalTokenCount": 11,
            },
        }
    )
    msg = out["choices"][0]["message"]
    assert msg == {
        "role": "assistant",
        "content": "Hello there",
        "reasoning_content": "Let me think. ",
        "refusal": None,
    }
    assert out["usage"] == usage(prompt=4, completion=7, total=11, reasoning=5)


def test_parallel_function_calls_and_ids_unique_across_candidates():
    def call(name: str, args: dict) -> dict:
        return {"functionCall": {"name": name, "args": args}}

    out = parse(
        {
            "responseId": "r1",
            "candidates": [
                {
                    "index": 0,
                    "content": {
                        "parts": [{"text": "Checking."}, call("a", {"x": 1}), call("b", {"y": [1, 2]})]
                    },
                    "finishReason": "STOP",
                },
                {"index": 1, "content": {"parts": [call("a", {"x": "é"})]}, "finishReason": "STOP"},
            ],
        }
    )
    first, second = out["choices"]
    assert first["message"]["content"] == "Checking."
    assert [c["id"] for c in first["message"]["tool_calls"]] == ["call_0", "call_1"]
    assert first["message"]["tool_calls"][1]["function"] == {"name": "b", "arguments": '{"y":[1,2]}'}
    assert first["finish_reason"] == "tool_calls"
    assert second["index"] == 1 and second["message"]["tool_calls"][0]["id"] == "call_2"
    assert json.loads(second["message"]["tool_calls"][0]["function"]["arguments"]) == {"x": "é"}
    assert "usage" not in out


def test_thought_signature_is_surfaced_on_the_tool_call():
    out = parse(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}]
                    },
                    "finishReason": "STOP",
                }
            ]
        }
    )
    call = out["choices"][0]["message"]["tool_calls"][0]
    assert call["extra_content"] == {"google": {"thought_signature": "c2ln"}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("OTHER", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reasons(raw, expected):
    cand: dict = {"content": {"parts": [{"text": "x"}]}}
    if raw:
        cand["finishReason"] = raw
    assert parse({"candidates": [cand]})["choices"][0]["finish_reason"] == expected


def test_safety_stop_without_content():
    out = parse({"candidates": [{"finishReason": "SAFETY", "safetyRatings": []}]})
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "", "refusal": None}
    assert out["choices"][0]["finish_reason"] == "content_filter"


def test_blocked_prompt_gives_one_filtered_choice():
    out = parse(
        {
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
        }
    )
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "", "refusal": None},
            "finish_reason": "content_filter",
            "logprobs": None,
        }
    ]
    assert out["usage"] == usage(prompt=7, total=7)


def test_cached_tokens():
    out = parse(
        {
            "candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}],
            "usageMetadata": {
                "promptTokenCount": 1000,
                "cachedContentTokenCount": 800,
                "candidatesTokenCount": 3,
                "totalTokenCount": 1003,
            },
        }
    )
    assert out["usage"] == usage(prompt=1000, completion=3, total=1003, cached=800)


def test_missing_response_id_gets_a_generated_one():
    out = parse({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}]})
    assert out["id"].startswith("chatcmpl-")


def test_error_body_with_200_raises():
    with pytest.raises(UpstreamError) as info:
        parse({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}})
    assert info.value.kind == "overloaded"


def test_invalid_json_raises_server_error():
    with pytest.raises(UpstreamError) as info:
        provider().parse_response(b"<html>oops")
    assert (info.value.status, info.value.kind) == (502, "server")


# --- errors ------------------------------------------------------------------------------------


def rpc(code: int, status: str, message: str, details: list | None = None) -> bytes:
    err: dict = {"code": code, "message": message, "status": status}
    if details is not None:
        err["details"] = details
    return orjson.dumps({"error": err})


def test_rate_limited_with_retry_info():
    body = rpc(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.",
        [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "46s"},
        ],
    )
    err = provider().parse_error(429, {}, body)
    assert (err.kind, err.retry_after, err.type) == ("rate_limited", 46.0, "RESOURCE_EXHAUSTED")
    assert err.body == body


def test_retry_after_header_wins():
    body = rpc(
        429,
        "RESOURCE_EXHAUSTED",
        "quota",
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.5s"}],
    )
    assert provider().parse_error(429, {"Retry-After": "3"}, body).retry_after == 3.0
    assert provider().parse_error(429, {}, body).retry_after == 0.5


@pytest.mark.parametrize(
    ("status", "rpc_status", "message", "kind"),
    [
        (503, "UNAVAILABLE", "The model is overloaded. Please try again later.", "overloaded"),
        (
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).",
            "context_length",
        ),
        (400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "bad_request"),
        (400, "FAILED_PRECONDITION", "User location is not supported for the API use.", "bad_request"),
        (403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers.", "auth"),
        (401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", "auth"),
        (404, "NOT_FOUND", "models/x is not found", "not_found"),
        (500, "INTERNAL", "An internal error has occurred.", "server"),
        (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", "timeout"),
    ],
)
def test_error_classification(status, rpc_status, message, kind):
    err = provider().parse_error(status, {}, rpc(status, rpc_status, message))
    assert (err.status, err.kind, err.message) == (status, kind, message)


def test_invalid_api_key_is_auth():
    body = rpc(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        ],
    )
    assert provider().parse_error(400, {}, body).kind == "auth"


def test_list_wrapped_envelope_and_non_json_body():
    wrapped = b"[" + rpc(429, "RESOURCE_EXHAUSTED", "quota") + b"]"
    assert provider().parse_error(429, {}, wrapped).kind == "rate_limited"
    err = provider().parse_error(502, {}, b"<html>Bad Gateway</html>")
    assert (err.kind, err.message) == ("server", "<html>Bad Gateway</html>")
    assert provider().parse_error(503, {}, b"").kind == "overloaded"
