"""The Helicone quickstart's Anthropic TypeScript example (tests/e2e/node/anthropic_messages.mjs) against a real
gateway: `@anthropic-ai/sdk` with `apiKey: \\`Bearer ${KEY}\\``, `baseURL` = the gateway root, and
`Helicone-Gateway-Body-Mapping: NO_MAPPING`. `make test` runs `npm ci` in tests/e2e/node first; run it by hand
otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.wire import exchange, stream

NODE_DIR = Path(__file__).resolve().parent / "node"
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


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "Node.js (`node`) is not on PATH"
    if not (NODE_DIR / "node_modules" / "@anthropic-ai" / "sdk" / "package.json").exists():
        return f"the npm packages are not installed: run `npm ci` in {NODE_DIR} (make test does)"
    return None


MISSING = _missing()
IN_CI = os.environ.get("CI", "").lower() == "true"

# Without Node or the npm packages: skipped (before any gateway starts) on a workstation, a loud failure in CI.
pytestmark = [pytest.mark.node, pytest.mark.skipif(MISSING is not None and not IN_CI, reason=MISSING or "")]


@pytest.fixture(scope="module")
def node_run(request: pytest.FixtureRequest) -> dict[str, Any]:
    if MISSING is not None:
        pytest.fail(f"Node SDK end-to-end tests cannot run in CI: {MISSING}", pytrace=False)
    node = shutil.which("node")
    assert node is not None
    gateway, upstream = request.getfixturevalue("gateway"), request.getfixturevalue("upstream")
    before = len(upstream.seen)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}  # no ambient credentials
    env.update({"BASE_URL": gateway.url, "KEY": gateway.key, "NO_PROXY": "127.0.0.1,localhost"})
    proc = subprocess.run(
        [node, "anthropic_messages.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, (
        f"node anthropic_messages.mjs failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line from anthropic_messages.mjs:\n{proc.stdout}\n{proc.stderr}"
    out = json.loads(lines[-1])
    out["_upstream"] = upstream.seen[before:]
    return out


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
