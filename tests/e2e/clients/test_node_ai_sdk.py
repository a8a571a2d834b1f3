"""The Vercel AI SDK (`ai` + `@ai-sdk/openai` + `@ai-sdk/anthropic`, pinned in tests/e2e/node/package-lock.json)
through the gateway to every provider of the matrix, by tests/e2e/node/ai_sdk.mjs.

Client modes: `@ai-sdk/openai` in its default Responses mode (store on: earlier output goes back as
`item_reference`), its `.chat()` mode, and `@ai-sdk/anthropic` on the gateway's /v1/messages. Tasks: a tool loop
the SDK runs itself (generateText + stopWhen) with reasoning on, then a second user turn on the SDK's own response
messages; a structured output (generateObject with a zod schema); a stream (streamText). Each case checks what the
client received and what reached the upstream (the agent upstream refuses what each real provider refuses).

Speed: importing the SDK costs a node process more than a case, so one node process runs every case of the module
(a few at a time) once, in the module-scoped `ai_sdk` fixture; each test reads its case's JSON line. Every prompt of
a case carries the marker `[case:<id>]`, and a test's upstream requests are the ones whose body has its marker.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from support.client_matrix import ANSWER, PROVIDERS, WEATHER, Provider, Sent
from support.node import NODE_DIR, marks, missing

pytestmark = marks("ai")

GPT_4O_MINI = Provider("openai-4o", "gpt-4o-mini/openai", "/openai/v1/")  # no reasoning: none is asked
MATRIX = [GPT_4O_MINI, *PROVIDERS]
CLIENTS = ("responses", "chat", "anthropic")
TASKS = ("loop", "object", "stream")
CLAUDE = next(p for p in PROVIDERS if p.name == "anthropic")

# (task, client, provider name) -> why it fails today; strict, so a fix turns them into failures to remove.
XFAIL: dict[tuple[str, str, str], str] = {}


def reasoning(provider: Provider) -> bool:
    return provider is not GPT_4O_MINI


@dataclass(frozen=True)
class Case:
    task: str
    client: str
    provider: Provider
    reasoning: bool

    @property
    def id(self) -> str:
        return f"{self.task}-{self.client}-{self.provider.name}" + ("" if self.reasoning else "-noreasoning")

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client": self.client,
            "model": self.provider.model,
            "task": self.task,
            "reasoning": self.reasoning,
        }


def case(task: str, client: str, provider: Provider, *, reasoning_on: bool | None = None) -> Case:
    return Case(task, client, provider, reasoning(provider) if reasoning_on is None else reasoning_on)


# the item_reference test's case: responses mode to Claude without reasoning
ITEM_REFERENCE = case("loop", "responses", CLAUDE, reasoning_on=False)
ALL_CASES = [case(t, c, p) for t in TASKS for c in CLIENTS for p in MATRIX] + [ITEM_REFERENCE]


def cases(task: str) -> list[Any]:
    out = []
    for client in CLIENTS:
        for p in MATRIX:
            reason = XFAIL.get((task, client, p.name))
            mark = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(client, p, id=f"{client}-{p.name}", marks=mark))
    return out


class Results:
    """Every case's JSON line from one node run, and the upstream requests each case made."""

    def __init__(self, lines: dict[str, dict[str, Any]], upstream: Any, mark: int, log: str) -> None:
        self.lines, self.upstream, self.mark, self.log = lines, upstream, mark, log

    def out(self, c: Case) -> dict[str, Any]:
        assert c.id in self.lines, f"no JSON line for case {c.id} from ai_sdk.mjs:\n{self.log}"
        out = self.lines[c.id]
        assert out["ok"], out["error"]
        return out

    def sent(self, c: Case) -> list[Sent]:
        """The case's upstream requests, in order (a case's calls are sequential; the marker is in every prompt)."""
        tag = f"[case:{c.id}]"
        return [
            Sent(s)
            for s in self.upstream.since(self.mark, c.provider.path)
            if tag in json.dumps(s.body, ensure_ascii=False)
        ]


@pytest.fixture(scope="module")
def ai_sdk(matrix_gateway: Any, agent_upstream: Any) -> Results:
    """Runs every case once in one node process."""
    if (why := missing("ai")) is not None:
        pytest.fail(f"Node SDK end-to-end tests cannot run in CI: {why}", pytrace=False)
    env = {
        **os.environ,
        "BASE_URL": matrix_gateway.url,
        "KEY": matrix_gateway.key,
        "NO_PROXY": "127.0.0.1,localhost",
        "CASES": json.dumps([c.wire() for c in ALL_CASES]),
    }
    mark = agent_upstream.mark()
    proc = subprocess.run(
        ["node", "ai_sdk.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"node ai_sdk.mjs failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
    lines = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            out = json.loads(line)
            lines[out["id"]] = out
    return Results(lines, agent_upstream, mark, f"{proc.stdout}\n{proc.stderr}")


def _loop_pair(first: Sent, second: Sent, *, reasoning_on: bool) -> None:
    """As assert_tool_loop: the first call asked for reasoning and offered the tool; the second carried the tool's
    result for the call the first one made (same id; Gemini: same function name)."""
    if reasoning_on:
        assert first.reasoning, first.body
    result_id, text = second.tool_results[-1]
    assert result_id in second.tool_calls
    assert json.loads(text) == {"city": "Paris", **WEATHER}


@pytest.mark.parametrize(("client", "provider"), cases("loop"))
def test_tool_loop_with_reasoning_then_a_second_turn(client, provider, ai_sdk, matrix_gateway):
    c = case("loop", client, provider)
    out = ai_sdk.out(c)
    steps = out["result"]["steps"]
    assert [s["finishReason"] for s in steps] == ["tool-calls", "stop"], steps
    assert [(t["name"], t["input"]) for t in steps[0]["toolCalls"]] == [("get_weather", {"city": "Paris"})]
    assert out["result"]["text"] == ANSWER
    followup = out["result"]["followup"]
    assert followup["ok"], followup
    assert [s["finishReason"] for s in followup["steps"]] == ["tool-calls", "stop"]
    assert followup["text"] == ANSWER
    # the SDK ran the tool itself in turn 1
    assert out["result"]["executed"] == [{"name": "get_weather", "input": {"city": "Paris"}}]

    # turn 1: call + result; turn 2 (the SDK's own response messages + a question): call + result
    calls = ai_sdk.sent(c)
    assert len(calls) == 4, [k.seen.path for k in calls]
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
def test_structured_output(client, provider, ai_sdk):
    c = case("object", client, provider)
    out = ai_sdk.out(c)
    assert out["result"]["object"] == {"city": "Paris", "temp_c": 21}
    (call,) = ai_sdk.sent(c)
    # the schema reached the upstream (as a response format, a forced tool or a response schema)
    assert "temp_c" in json.dumps(call.body)


@pytest.mark.parametrize(("client", "provider"), cases("stream"))
def test_stream(client, provider, ai_sdk, matrix_gateway):
    c = case("stream", client, provider)
    out = ai_sdk.out(c)
    r = out["result"]
    assert r["text"] == ANSWER and r["finishReason"] == "stop"
    (call,) = ai_sdk.sent(c)
    assert "stream" in call.seen.path.lower() or call.body.get("stream") is True
    assert call.reasoning == reasoning(provider)
    row = matrix_gateway.wait_row(r["heliconeId"])
    assert row["stream"] is True and row["response_status"] == 200
    assert row["completion_tokens"] == r["usage"]["outputTokens"] > 0  # the client and the log count alike


def test_item_reference_without_reasoning(ai_sdk, matrix_gateway):
    """Without reasoning, `@ai-sdk/openai` (store on) sends turn 1's answer back as an `item_reference`; the gateway
    resolves it for a bridged provider (Claude) from what it stored."""
    out = ai_sdk.out(ITEM_REFERENCE)
    assert out["result"]["followup"]["ok"], out["result"]["followup"]
    row = matrix_gateway.wait_row(out["result"]["followup"]["steps"][0]["heliconeId"])
    assert any(i.get("type") == "item_reference" for i in row["request_body"]["input"])  # what the SDK sent
    turn2 = ai_sdk.sent(ITEM_REFERENCE)[2]
    assert ANSWER in json.dumps(turn2.body["messages"], ensure_ascii=False)


def test_cases_do_not_share_upstream_requests(ai_sdk):
    """The per-case marker is what ties an upstream request to its case: every request of the run has exactly one."""
    seen = ai_sdk.upstream.seen[ai_sdk.mark :]
    tags = [f"[case:{c.id}]" for c in ALL_CASES]
    counts = [sum(t in json.dumps(s.body, ensure_ascii=False) for t in tags) for s in seen]
    assert seen and counts == [1] * len(seen)


def test_sdk_versions_are_the_pinned_ones(ai_sdk):
    out = ai_sdk.out(case("stream", "chat", GPT_4O_MINI))
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())["packages"]
    assert out["sdk"]["ai"] == lock["node_modules/ai"]["version"]
    assert out["sdk"]["openai"] == lock["node_modules/@ai-sdk/openai"]["version"]
    assert out["sdk"]["anthropic"] == lock["node_modules/@ai-sdk/anthropic"]["version"]
    assert out["sdk"]["node"].startswith("v")
