"""The Helicone quickstart's Anthropic TypeScript example (tests/e2e/node/anthropic_messages.mjs) against a real
gateway: `@anthropic-ai/sdk` with `apiKey: \\`Bearer ${KEY}\\``, `baseURL` = the gateway root, and
`Helicone-Gateway-Body-Mapping: NO_MAPPING`. `make test` runs `npm ci` in tests/e2e/node first; run it by hand
otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.node import NODE_DIR, marks, run_script
from support.wire import exchange, stream

MESSAGE = exchange("anthropic/messages.json")["response"]["body"]


def recorded_text(name: str) -> str:
    text = []
    for line in stream(name).decode().splitlines():
        if line.startswith("data: {"):
            ev = json.loads(line[6:])
            if ev.get("type") == "content_block_delta" and ev["delta"]["type"] == "text_delta":
                text.append(ev["delta"]["text"])
    return "".join(text)


STREAM_TEXT = recorded_text("anthropic/messages_stream_text.sse")


def cost(prompt: int, completion: int) -> float:
    return (prompt * 3.00 + completion * 15.00) / 1e6  # Claude 3.7 Sonnet on Anthropic, USD per 1M tokens


pytestmark = marks("@anthropic-ai/sdk")


@pytest.fixture(scope="module")
def node_run(request: pytest.FixtureRequest) -> dict[str, Any]:
    gateway, upstream = request.getfixturevalue("gateway"), request.getfixturevalue("upstream")
    return run_script(
        "anthropic_messages.mjs", "@anthropic-ai/sdk", gateway, upstream, drop_env_prefix="ANTHROPIC_"
    )


def test_sdk_version_is_the_pinned_one(node_run):
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    assert node_run["sdk"]["anthropic"] == lock["packages"]["node_modules/@anthropic-ai/sdk"]["version"]


def test_quickstart_messages_create(node_run, gateway):
    c = node_run["create"]
    assert c["status"] == 200
    assert (c["type"], c["role"]) == ("message", "assistant")
    assert c["id"] == MESSAGE["id"]
    assert c["content"] == MESSAGE["content"]
    assert c["stopReason"] == "end_turn"
    assert (c["usage"]["input_tokens"], c["usage"]["output_tokens"]) == (20, 10)
    assert c["heliconeProvider"] == "anthropic"

    row = gateway.wait_row(c["heliconeId"])
    assert row["response_status"] == 200
    assert row["request_path"] == "/v1/messages"
    assert row["request_model"] == "claude-3-7-sonnet-20250219/anthropic"
    assert row["provider"] == "anthropic"
    assert row["stream"] is False
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (20, 10, 30)
    assert row["costUSD"] == pytest.approx(cost(20, 10))
    assert row["request_body"]["messages"] == [{"role": "user", "content": "Hello!"}]


def test_quickstart_messages_stream(node_run, gateway):
    s = node_run["stream"]
    assert s["status"] == 200
    assert s["contentType"].startswith("text/event-stream")
    assert s["events"][0] == "message_start" and s["events"][-1] == "message_stop"
    assert s["text"] == STREAM_TEXT
    assert s["final"]["content"] == [{"type": "text", "text": STREAM_TEXT}]
    assert s["final"]["stopReason"] == "end_turn"
    assert (s["final"]["usage"]["input_tokens"], s["final"]["usage"]["output_tokens"]) == (20, 5)

    row = gateway.wait_row(s["heliconeId"])
    assert row["stream"] is True
    assert row["provider"] == "anthropic"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (20, 5)
    assert row["costUSD"] == pytest.approx(cost(20, 5))
    assert row["request_properties"]["sdk"] == "anthropic-node"


def test_upstream_got_the_callers_body_with_the_provider_model(node_run):
    sent = [s for s in node_run["_upstream"] if s.path == "/anthropic/v1/messages"]
    assert len(sent) == 2  # create and stream (the bad key never reaches the provider)
    assert sent[0].body == {
        "model": "claude-3-7-sonnet-20250219",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello!"}],
    }
    assert sent[1].body == {
        "model": "claude-3-7-sonnet-20250219",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "What is 1 + 1?"}],
    }
    for s in sent:
        assert s.headers["x-api-key"] == "sk-ant-upstream-secret-0002"
        assert "authorization" not in s.headers
        assert not any(k.startswith("helicone-") for k in s.headers)


def test_bad_key_is_an_authentication_error(node_run):
    err = node_run["badKey"]
    assert err["status"] == 401
    assert err["name"] == "AuthenticationError"
    assert err["error"] == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "Invalid gateway key."},
    }
    assert err["heliconeId"]
