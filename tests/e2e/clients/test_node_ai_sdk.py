"""The Vercel AI SDK (`ai` + `@ai-sdk/openai` + `@ai-sdk/anthropic`, pinned in tests/e2e/node/package-lock.json)
through the gateway to every provider of the matrix, by tests/e2e/node/ai_sdk.mjs, one node process per case.

Client modes: `@ai-sdk/openai` in its default Responses mode (store on: earlier output goes back as
`item_reference`), its `.chat()` mode, and `@ai-sdk/anthropic` on the gateway's /v1/messages. Tasks: a tool loop
the SDK runs itself (generateText + stopWhen) with reasoning on, then a second user turn on the SDK's own response
messages; a structured output (generateObject with a zod schema); a stream (streamText). Each case checks what the
client received and what reached the upstream (the agent upstream refuses what each real provider refuses).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from support.client_matrix import ANSWER, PROVIDERS, WEATHER, Provider, Sent, sent
from support.node import NODE_DIR, marks, missing

pytestmark = marks("ai")

GPT_4O_MINI = Provider("openai-4o", "gpt-4o-mini/openai", "/openai/v1/")  # no reasoning: none is asked
MATRIX = [GPT_4O_MINI, *PROVIDERS]
CLIENTS = ("responses", "chat", "anthropic")

# (task, client, provider name) -> why it fails today; strict, so a fix turns them into failures to remove.
XFAIL: dict[tuple[str, str, str], str] = {}


def cases(task: str) -> list[Any]:
    out = []
    for client in CLIENTS:
        for p in MATRIX:
            reason = XFAIL.get((task, client, p.name))
            mark = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(client, p, id=f"{client}-{p.name}", marks=mark))
    return out


def reasoning(provider: Provider) -> bool:
    return provider is not GPT_4O_MINI


def run(
    gateway: Any, client: str, provider: Provider, task: str, *, reasoning_on: bool | None = None
) -> dict[str, Any]:
    """One case in one node process; its JSON line."""
    if (why := missing("ai")) is not None:
        pytest.fail(f"Node SDK end-to-end tests cannot run in CI: {why}", pytrace=False)
    env = {
        **os.environ,
        "BASE_URL": gateway.url,
        "KEY": gateway.key,
        "NO_PROXY": "127.0.0.1,localhost",
        "CLIENT": client,
        "MODEL": provider.model,
        "TASK": task,
        "REASONING": "1" if (reasoning(provider) if reasoning_on is None else reasoning_on) else "0",
    }
    proc = subprocess.run(
        ["node", "ai_sdk.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, f"node ai_sdk.mjs failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line from ai_sdk.mjs:\n{proc.stdout}\n{proc.stderr}"
    out = json.loads(lines[-1])
    assert out["ok"], out["error"]
    return out


def _loop_pair(first: Sent, second: Sent, *, reasoning_on: bool) -> None:
    """As assert_tool_loop: the first call asked for reasoning and offered the tool; the second carried the tool's
    result for the call the first one made (same id; Gemini: same function name)."""
    if reasoning_on:
        assert first.reasoning, first.body
    result_id, text = second.tool_results[-1]
    assert result_id in second.tool_calls
    assert json.loads(text) == {"city": "Paris", **WEATHER}


@pytest.mark.parametrize(("client", "provider"), cases("loop"))
def test_tool_loop_with_reasoning_then_a_second_turn(client, provider, matrix_gateway, agent_upstream):
    mark = agent_upstream.mark()
    out = run(matrix_gateway, client, provider, "loop")
    steps = out["result"]["steps"]
    assert [s["finishReason"] for s in steps] == ["tool-calls", "stop"], steps
    assert [(c["name"], c["input"]) for c in steps[0]["toolCalls"]] == [("get_weather", {"city": "Paris"})]
    assert out["result"]["text"] == ANSWER
    followup = out["result"]["followup"]
    assert followup["ok"], followup
    assert [s["finishReason"] for s in followup["steps"]] == ["tool-calls", "stop"]
    assert followup["text"] == ANSWER
    # the SDK ran the tool itself in turn 1
    assert out["result"]["executed"] == [{"name": "get_weather", "input": {"city": "Paris"}}]

    # turn 1: call + result; turn 2 (the SDK's own response messages + a question): call + result
    calls = sent(agent_upstream, mark, provider)
    assert len(calls) == 4, [c.seen.path for c in calls]
    assert calls[0].tool_results == [] and len(calls[1].tool_results) == 1
    _loop_pair(calls[0], calls[1], reasoning_on=reasoning(provider))
    _loop_pair(calls[2], calls[3], reasoning_on=reasoning(provider))
    history = json.dumps(calls[2].body, ensure_ascii=False)
    assert "And tomorrow?" in history
    if client == "responses" and provider.path.startswith("/openai/"):
        # native Responses passthrough: the reference goes to OpenAI, which resolves it (the mock checks it knows it)
        assert any(i.get("type") == "item_reference" for i in calls[2].body["input"])
    else:  # turn 1's answer went back (resolved by the gateway where the SDK sent an item_reference)
        assert ANSWER in history
    assert len(calls[3].tool_results) == 2
    if provider.claude and client == "anthropic":  # the signed thinking block went back untouched
        assert steps[0]["reasoning"]
        assistant = next(m for m in calls[1].body["messages"] if m["role"] == "assistant")
        assert assistant["content"][0]["type"] == "thinking"
    assert matrix_gateway.wait_row(steps[0]["heliconeId"])["response_status"] == 200


@pytest.mark.parametrize(("client", "provider"), cases("object"))
def test_structured_output(client, provider, matrix_gateway, agent_upstream):
    mark = agent_upstream.mark()
    out = run(matrix_gateway, client, provider, "object")
    assert out["result"]["object"] == {"city": "Paris", "temp_c": 21}
    (call,) = sent(agent_upstream, mark, provider)
    # the schema reached the upstream (as a response format, a forced tool or a response schema)
    assert "temp_c" in json.dumps(call.body)


@pytest.mark.parametrize(("client", "provider"), cases("stream"))
def test_stream(client, provider, matrix_gateway, agent_upstream):
    mark = agent_upstream.mark()
    out = run(matrix_gateway, client, provider, "stream")
    r = out["result"]
    assert r["text"] == ANSWER and r["finishReason"] == "stop"
    (call,) = sent(agent_upstream, mark, provider)
    assert "stream" in call.seen.path.lower() or call.body.get("stream") is True
    assert call.reasoning == reasoning(provider)
    row = matrix_gateway.wait_row(r["heliconeId"])
    assert row["stream"] is True and row["response_status"] == 200
    assert row["completion_tokens"] == r["usage"]["outputTokens"] > 0  # the client and the log count alike


def test_item_reference_without_reasoning(matrix_gateway, agent_upstream):
    """Without reasoning, `@ai-sdk/openai` (store on) sends turn 1's answer back as an `item_reference`; the gateway
    resolves it for a bridged provider (Claude) from what it stored."""
    claude = next(p for p in PROVIDERS if p.name == "anthropic")
    mark = agent_upstream.mark()
    out = run(matrix_gateway, "responses", claude, "loop", reasoning_on=False)
    assert out["result"]["followup"]["ok"], out["result"]["followup"]
    row = matrix_gateway.wait_row(out["result"]["followup"]["steps"][0]["heliconeId"])
    assert any(i.get("type") == "item_reference" for i in row["request_body"]["input"])  # what the SDK sent
    turn2 = sent(agent_upstream, mark, claude)[2]
    assert ANSWER in json.dumps(turn2.body["messages"], ensure_ascii=False)


def test_sdk_versions_are_the_pinned_ones(matrix_gateway):
    out = run(matrix_gateway, "chat", GPT_4O_MINI, "stream")
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())["packages"]
    assert out["sdk"]["ai"] == lock["node_modules/ai"]["version"]
    assert out["sdk"]["openai"] == lock["node_modules/@ai-sdk/openai"]["version"]
    assert out["sdk"]["anthropic"] == lock["node_modules/@ai-sdk/anthropic"]["version"]
    assert out["sdk"]["node"].startswith("v")
