"""Agent loops from OpenAI-format clients to Claude with reasoning on: the official OpenAI SDK runs a two-turn tool
loop and a forced tool call against a mock Anthropic that refuses what Anthropic refuses (tests/support/anthropic_rules.py)."""

from __future__ import annotations

import json

import openai
import pytest

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)


def _messages_bodies(upstream, since: int) -> list[dict]:
    return [s.body for s in upstream.seen[since:] if s.path.endswith("/messages")]


def test_two_turn_tool_loop_with_reasoning(client, upstream):
    before = len(upstream.seen)
    history = [{"role": "user", "content": "What is the weather in Paris? [[tools]]"}]
    first = client.chat.completions.create(
        model="claude-sonnet-4/anthropic", messages=history, tools=TOOLS, reasoning_effort="low"
    )
    calls = first.choices[0].message.tool_calls
    assert calls, first
    # what LangChain's ChatOpenAI and the Agents SDK send back: the call, without any thinking block
    history.append({"role": "assistant", "content": None, "tool_calls": [c.model_dump() for c in calls]})
    history += [{"role": "tool", "tool_call_id": c.id, "content": json.dumps({"temp_c": 21})} for c in calls]
    second = client.chat.completions.create(
        model="claude-sonnet-4/anthropic", messages=history, tools=TOOLS, reasoning_effort="low"
    )
    assert second.choices[0].message.content
    sent = _messages_bodies(upstream, before)
    assert sent[0]["thinking"]["type"] == "enabled"
    assert "thinking" not in sent[1]  # Anthropic's documented way out: no thinking for the tool-result turn


def test_forced_tool_choice_with_reasoning(client, upstream):
    before = len(upstream.seen)
    for choice in ("required", {"type": "function", "function": {"name": "get_weather"}}):
        r = client.chat.completions.create(
            model="claude-sonnet-4/anthropic",
            tools=TOOLS,
            tool_choice=choice,
            reasoning_effort="medium",
            messages=[{"role": "user", "content": "Paris? [[tools]]"}],
        )
        assert r.choices[0].message.tool_calls
    for body in _messages_bodies(upstream, before):
        assert "thinking" not in body and body["tool_choice"]["type"] in ("any", "tool")
