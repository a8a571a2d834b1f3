"""Gemini sends no tool call ids: the ids the gateway makes must be unique across answers, or a conversation
continued on Claude (after a fallback or a model switch) carries duplicate `tool_use` ids, which Anthropic refuses."""

from __future__ import annotations

import orjson
import pytest

from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.base import Target
from switchyard.providers.gemini import GeminiProvider

pytestmark = pytest.mark.real_call_ids


def answer(*names: str, **call_extra: str) -> bytes:
    parts = [{"functionCall": {"name": n, "args": {"i": i}, **call_extra}} for i, n in enumerate(names)]
    return orjson.dumps(
        {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
            "responseId": "r",
            "modelVersion": "gemini-2.5-flash",
        }
    )


def test_ids_differ_across_answers_and_within_one():
    g = GeminiProvider(clock=lambda: 0)
    ids = []
    for _ in range(50):
        msg = g.parse_response(answer("a", "b"))["choices"][0]["message"]
        ids += [c["id"] for c in msg["tool_calls"]]
    assert len(ids) == len(set(ids)) == 100
    assert all(i.startswith("call_") and len(i) <= 64 for i in ids)


def test_stream_ids_are_unique_across_streams():
    g = GeminiProvider(clock=lambda: 0)
    ids = []
    for _ in range(20):
        parser = g.stream_parser()
        chunks = parser.feed(b"data: " + answer("a") + b"\r\n\r\n") + parser.close()
        ids += [tc["id"] for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls", [])]
    assert len(ids) == len(set(ids)) == 20


def test_geminis_own_call_id_is_kept():
    msg = GeminiProvider(clock=lambda: 0).parse_response(answer("a", id="fc-123"))["choices"][0]["message"]
    assert msg["tool_calls"][0]["id"] == "fc-123"


def test_two_gemini_tool_turns_continue_on_claude_without_duplicate_ids():
    g = GeminiProvider(clock=lambda: 0)
    history = [{"role": "user", "content": "go"}]
    for turn in range(2):
        msg = g.parse_response(answer("lookup"))["choices"][0]["message"]
        history.append({"role": "assistant", "content": None, "tool_calls": msg["tool_calls"]})
        history.append(
            {"role": "tool", "tool_call_id": msg["tool_calls"][0]["id"], "content": f"result {turn}"}
        )
    target = Target(
        provider="anthropic",
        model="claude-sonnet-4-5",
        format="anthropic",
        base_url="https://api.anthropic.com/v1",
        api_key="k",
        auth="x-api-key",
    )
    req = AnthropicProvider().build_request(
        {"model": "claude-sonnet-4", "messages": history, "max_tokens": 64}, target
    )
    body = orjson.loads(req.body)
    uses = [
        b["id"]
        for m in body["messages"]
        for b in (m["content"] if isinstance(m["content"], list) else [])
        if b.get("type") == "tool_use"
    ]
    assert len(uses) == 2 and len(set(uses)) == 2
