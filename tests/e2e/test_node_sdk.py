"""The Helicone quickstart's OpenAI Node SDK example (tests/e2e/node/openai_chat.mjs) against a real gateway.

The script uses `baseURL` WITHOUT /v1, exactly as the quickstart does, so the SDK posts to
`{gateway}/chat/completions`. `make test` runs `npm ci` in tests/e2e/node first; run it by hand otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.node import NODE_DIR, marks, run_script
from support.wire import chat_stream_text, exchange

ANSWER = exchange("openai/chat_completion.json")["response"]["body"]["choices"][0]["message"]["content"]


STREAM_ANSWER = chat_stream_text("openai/chat_completion_stream_usage.sse")


def cost(prompt: int, completion: int) -> float:
    return (prompt * 0.15 + completion * 0.60) / 1e6  # gpt-4o-mini, USD per 1M tokens


pytestmark = marks("openai")


@pytest.fixture(scope="module")
def node_run(request: pytest.FixtureRequest) -> dict[str, Any]:
    gateway, upstream = request.getfixturevalue("gateway"), request.getfixturevalue("upstream")
    return run_script("openai_chat.mjs", "openai", gateway, upstream)


def test_sdk_versions_are_the_pinned_ones(node_run):
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    assert node_run["sdk"]["openai"] == lock["packages"]["node_modules/openai"]["version"]


def test_quickstart_chat(node_run, gateway):
    chat = node_run["chat"]
    assert chat["status"] == 200
    assert chat["object"] == "chat.completion"
    assert chat["content"] == ANSWER
    assert chat["finishReason"] == "stop"
    assert (
        chat["usage"]["prompt_tokens"],
        chat["usage"]["completion_tokens"],
        chat["usage"]["total_tokens"],
    ) == (14, 37, 51)
    assert chat["heliconeProvider"] == "openai"

    row = gateway.wait_row(chat["heliconeId"])
    assert row["response_status"] == 200
    assert row["request_path"] == "/chat/completions"  # baseURL without /v1, as in the quickstart
    assert row["request_model"] == "gpt-4o-mini"
    assert row["provider"] == "openai"
    assert row["stream"] is False
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 37, 51)
    assert row["costUSD"] == pytest.approx(cost(14, 37))
    assert row["request_body"]["messages"] == [{"role": "user", "content": "What is the capital of France?"}]


def test_quickstart_stream(node_run, gateway):
    s = node_run["stream"]
    assert s["status"] == 200
    assert s["contentType"].startswith("text/event-stream")
    assert s["text"] == STREAM_ANSWER
    assert s["finishReason"] == "stop"
    assert s["chunks"] > 10
    assert s["usage"] is None  # not asked for (no stream_options.include_usage): not sent

    row = gateway.wait_row(s["heliconeId"])
    assert row["stream"] is True
    assert row["request_path"] == "/chat/completions"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 30, 44)
    assert row["costUSD"] == pytest.approx(cost(14, 30))
    assert row["request_properties"]["sdk"] == "openai-node"
    assert row["response_body"]["choices"][0]["message"]["content"] == STREAM_ANSWER


def test_upstream_saw_the_provider_key_and_model(node_run):
    chats = [s for s in node_run["_upstream"] if s.path == "/v1/chat/completions"]
    assert len(chats) == 3  # chat, stream, rate-limited (the bad key never reaches the provider)
    for s in chats:
        assert s.body["model"] == "gpt-4o-mini"
        assert s.headers["authorization"] == "Bearer sk-upstream-openai-secret-0001"
        assert not any(k.startswith("helicone-") for k in s.headers)
    assert chats[1].body["stream"] is True
    assert chats[1].body["stream_options"] == {"include_usage": True}  # the gateway asks for usage itself


def test_quickstart_error_handling_401(node_run):
    err = node_run["badKey"]
    assert err["status"] == 401
    assert err["name"] == "AuthenticationError"
    assert err["type"] == "authentication_error"
    assert "Invalid gateway key" in err["message"]
    assert err["heliconeId"]


def test_quickstart_error_handling_429(node_run, gateway):
    err = node_run["rateLimited"]
    assert err["status"] == 429
    assert err["name"] == "RateLimitError"
    assert err["type"] == "rate_limit_error"
    row = gateway.wait_row(err["heliconeId"])
    assert row["response_status"] == 429
    assert [(a["provider"], a["status"]) for a in row["attempts"]] == [("openai", 429)]
