"""Claude's thinking rules on every route to Claude (Anthropic, Bedrock, Claude on Vertex): what OpenAI-format agent
loops send must become a request Claude accepts (issue 11 items 1 and 2)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.base import Target
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.vertex import VertexProvider

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
CALL = {
    "id": "toolu_01",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
TURN_2 = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "toolu_01", "content": "sunny"},
]
SIGNED = {"type": "thinking", "thinking": "Let me look it up.", "signature": "sig-abc"}


def anthropic(body: dict[str, Any]) -> dict[str, Any]:
    t = Target(
        "anthropic", "claude-sonnet-4-5", "anthropic", "https://api.anthropic.com/v1", "k", "x-api-key"
    )
    return orjson.loads(AnthropicProvider().build_request({"model": "m", **body}, t).body)


def vertex(body: dict[str, Any]) -> dict[str, Any]:
    cfg = {"project": "p", "default_region": "us-east5", "anthropic_version": "vertex-2023-10-16"}
    t = Target(
        "vertex",
        "claude-sonnet-4-5",
        "vertex",
        "https://{region}-aiplatform.googleapis.com/v1",
        None,
        "google-oauth",
        cfg,
    )
    return orjson.loads(VertexProvider(clock=lambda: 0).build_request({"model": "m", **body}, t).body)


def bedrock(body: dict[str, Any]) -> dict[str, Any]:
    t = Target(
        "bedrock",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "bedrock",
        "https://bedrock-runtime.{region}.amazonaws.com",
        "AKID",
        "aws-sigv4",
        {},
    )
    out = orjson.loads(BedrockProvider(clock=lambda: 0).build_request({"model": "m", **body}, t).body)
    return {"thinking": (out.get("additionalModelRequestFields") or {}).get("thinking"), "raw": out}


ROUTES = {"anthropic": anthropic, "vertex": vertex, "bedrock": bedrock}


@pytest.mark.parametrize("route", ROUTES)
def test_first_turn_of_a_tool_loop_thinks(route):
    out = ROUTES[route]({"messages": TURN_2[:1], "tools": TOOLS, "reasoning_effort": "low"})
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize("route", ROUTES)
def test_tool_result_turn_without_signed_thinking_turns_thinking_off(route):
    """LangChain, the Agents SDK and pydantic-ai send the tool result back without the thinking block."""
    out = ROUTES[route]({"messages": TURN_2, "tools": TOOLS, "reasoning_effort": "low"})
    assert out.get("thinking") is None


@pytest.mark.parametrize("route", ROUTES)
def test_signed_thinking_carried_back_keeps_thinking_on(route):
    history = [
        TURN_2[0],
        {**TURN_2[1], "reasoning_content": SIGNED["thinking"], "thinking_blocks": [SIGNED]},
        TURN_2[2],
    ]
    out = ROUTES[route]({"messages": history, "tools": TOOLS, "reasoning_effort": "low"})
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize("route", ROUTES)
def test_a_new_user_turn_after_a_finished_tool_loop_thinks_again(route):
    history = [
        *TURN_2,
        {"role": "assistant", "content": "It is sunny."},
        {"role": "user", "content": "And Rome?"},
    ]
    out = ROUTES[route]({"messages": history, "tools": TOOLS, "reasoning_effort": "low"})
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_forced_tool_choice_drops_thinking_and_keeps_the_choice(route, choice):
    out = ROUTES[route](
        {"messages": TURN_2[:1], "tools": TOOLS, "tool_choice": choice, "reasoning_effort": "high"}
    )
    assert out.get("thinking") is None
    raw = out.get("raw", out)
    forced = raw.get("tool_choice") or (raw.get("toolConfig") or {}).get("toolChoice")
    assert forced and ("any" in forced or "tool" in forced or forced.get("type") in ("any", "tool"))


def test_without_thinking_temperature_survives_and_with_it_goes():
    cold = anthropic({"messages": TURN_2, "tools": TOOLS, "reasoning_effort": "low", "temperature": 0.2})
    assert cold["temperature"] == 0.2 and "thinking" not in cold  # thinking off for the turn: sampling kept
    hot = anthropic({"messages": TURN_2[:1], "reasoning_effort": "low", "temperature": 0.2, "top_p": 0.5})
    assert "temperature" not in hot and hot["top_p"] == 0.95
