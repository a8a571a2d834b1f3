"""Automatic prompt caching for Claude (providers/anthropic/cache_breakpoint.py): one breakpoint where Anthropic
accepts it, only when switched on and only when the caller set none; what each Claude upstream then receives is
checked against the mock upstream's Anthropic rules (tests/support/anthropic_rules.py)."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from support.anthropic_rules import refusal
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.anthropic.cache_breakpoint import applies, has_cache_control, with_breakpoint
from switchyard.providers.base import Target
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.bedrock.request import translate
from switchyard.providers.vertex import VertexProvider

ON = {"auto_cache_control": True}
ANTHROPIC = Target(
    "anthropic", "claude-sonnet-4-20250514", "anthropic", "https://api.anthropic.com/v1", config=ON
)
BEDROCK = Target(
    "bedrock",
    "anthropic.claude-sonnet-4-20250514-v1:0",
    "bedrock",
    "https://bedrock-runtime.{region}.amazonaws.com",
    "AKIDEXAMPLE",
    "aws-sigv4",
    {**ON, "region": "us-west-2", "secret_key": "s"},
)
VERTEX = Target(
    "vertex",
    "claude-sonnet-4@20250514",
    "vertex",
    "https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}",
    None,
    "google-oauth",
    {**ON, "project": "p", "region": "us-east5", "access_token": "t"},
)
CEP = {"type": "ephemeral"}


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 200, "messages": list(messages), **extra}


def sent(target: Target, body: dict[str, Any], kind: str = "chat") -> dict[str, Any]:
    """What the upstream receives for `body` once the breakpoint step has run (as the Caller runs it)."""
    marked, _ = with_breakpoint(body, kind, target, [])
    if target.format == "anthropic":
        p = AnthropicProvider()
        req = (
            p.build_request(marked, target) if kind == "chat" else p.native_request(marked, target, kind, {})
        )
    elif target.format == "vertex":
        p = VertexProvider(clock=lambda: 0)
        req = (
            p.build_request(marked, target) if kind == "chat" else p.native_request(marked, target, kind, {})
        )
    else:
        return (
            translate(marked, target)
            if kind == "chat"
            else orjson.loads(BedrockProvider().native_request(marked, target, kind, {}).body)
        )
    return orjson.loads(req.body)


def breakpoints(anthropic_body: dict[str, Any]) -> list[str]:
    """Where an Anthropic body carries cache_control, as `system.N` / `messages.N.M` / `tools.N`."""
    out = []
    system = anthropic_body.get("system")
    for j, b in enumerate(system if isinstance(system, list) else []):
        if b.get("cache_control"):
            out.append(f"system.{j}")
    for i, m in enumerate(anthropic_body["messages"]):
        for j, b in enumerate(m["content"] if isinstance(m["content"], list) else []):
            if b.get("cache_control"):
                out.append(f"messages.{i}.{j}")
    for j, t in enumerate(anthropic_body.get("tools") or []):
        if t.get("cache_control"):
            out.append(f"tools.{j}")
    return out


CONVERSATION = chat(
    {"role": "system", "content": "You are terse. " * 200},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": "And 3+3?"},
)


def test_off_unless_the_provider_switches_it_on_and_only_for_claude() -> None:
    plain = Target("anthropic", "claude-sonnet-4", "anthropic", "https://x")
    assert with_breakpoint(CONVERSATION, "chat", plain, [])[0] is CONVERSATION
    assert applies(ANTHROPIC) and applies(BEDROCK) and applies(VERTEX)
    nova = Target("bedrock", "amazon.nova-pro-v1:0", "bedrock", "https://x", config=ON)
    gemini = Target("vertex", "gemini-2.5-flash", "vertex", "https://x", config=ON)
    openai = Target("openai", "gpt-4o-mini", "openai", "https://x", config=ON)
    assert not applies(nova) and not applies(gemini) and not applies(openai)
    profile = Target("bedrock", "arn:aws:bedrock:us-east-1:1:application-inference-profile/x", "bedrock", "x",
                     config={**ON, "family": "anthropic"})  # fmt: skip
    assert applies(profile)


def test_the_last_message_of_a_conversation_gets_the_one_breakpoint() -> None:
    before = copy.deepcopy(CONVERSATION)
    body, notes = with_breakpoint(CONVERSATION, "chat", ANTHROPIC, ["max_tokens clamped"])
    assert body["messages"][3] == {"role": "user", "content": "And 3+3?", "cache_control": CEP}
    assert before == CONVERSATION  # the caller's body is not touched
    assert notes == ["max_tokens clamped", "cache_control breakpoint added on messages[3]"]
    out = sent(ANTHROPIC, CONVERSATION)
    assert breakpoints(out) == ["messages.2.0"]
    assert out["messages"][2]["content"] == [{"type": "text", "text": "And 3+3?", "cache_control": CEP}]
    assert refusal(out) is None


def test_a_caller_who_set_any_breakpoint_is_left_alone() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}, "cache_control": CEP}
    for body in (
        chat({"role": "user", "content": [{"type": "text", "text": "x", "cache_control": CEP}]}),
        chat({"role": "user", "content": "x", "cache_control": CEP}),
        chat({"role": "user", "content": "x"}, tools=[tool]),
    ):
        assert has_cache_control(body)
        assert with_breakpoint(body, "chat", ANTHROPIC, [])[0] is body
    native = {"system": [{"type": "text", "text": "s", "cache_control": CEP}], "messages": [{"role": "user", "content": "x"}]}  # fmt: skip
    assert with_breakpoint(native, "messages", ANTHROPIC, [])[0] is native


def test_four_breakpoints_of_the_caller_stay_four_and_a_fifth_is_refused_upstream() -> None:
    blocks = [{"type": "text", "text": f"part {i}", "cache_control": CEP} for i in range(5)]
    four = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": blocks[:4]}]}
    assert sent(ANTHROPIC, four, "messages")["messages"] == four["messages"] and refusal(four) is None
    five = {**four, "messages": [{"role": "user", "content": blocks}]}
    assert refusal(five) == "A maximum of 4 blocks with cache_control may be provided. Found 5."


def test_blocks_that_cannot_carry_a_breakpoint_are_passed_over() -> None:
    thinking = {"type": "thinking", "thinking": "hmm", "signature": "sig"}
    body = {
        "model": "m",
        "max_tokens": 10,
        "system": "You are terse.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "q1"}, {"type": "text", "text": " "}]},
            {"role": "assistant", "content": [thinking]},
        ],
    }
    out = sent(ANTHROPIC, body, "messages")
    assert breakpoints(out) == ["messages.0.0"] and refusal(out) is None
    # the mock refuses what Anthropic refuses, so a breakpoint on those blocks would fail the request
    on_blank = copy.deepcopy(body)
    on_blank["messages"][0]["content"][1]["cache_control"] = CEP
    assert "empty text blocks" in (refusal(on_blank) or "")
    on_thinking = copy.deepcopy(body)
    on_thinking["messages"][1]["content"][0]["cache_control"] = CEP
    assert "Extra inputs are not permitted" in (refusal(on_thinking) or "")
    # nothing markable in any message: the system prompt's last block
    only_thinking = {**body, "messages": [{"role": "assistant", "content": [thinking]}]}
    marked, _ = with_breakpoint(only_thinking, "messages", ANTHROPIC, [])
    assert marked["system"] == [{"type": "text", "text": "You are terse.", "cache_control": CEP}]


def test_tool_turns_put_the_breakpoint_on_the_tool_result() -> None:
    body = chat(
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        tools=[{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}],
    )  # fmt: skip
    out = sent(ANTHROPIC, body)
    assert breakpoints(out) == ["messages.2.0"] and out["messages"][2]["content"][0]["type"] == "tool_result"
    assert refusal(out) is None


def test_claude_on_bedrock_gets_a_cache_point_and_on_vertex_a_breakpoint() -> None:
    converse = sent(BEDROCK, CONVERSATION)
    last = converse["messages"][-1]["content"]
    assert last == [{"text": "And 3+3?"}, {"cachePoint": {"type": "default"}}]
    assert sum("cachePoint" in b for m in converse["messages"] for b in m["content"]) == 1
    invoke = sent(BEDROCK, {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}, "messages")
    assert invoke["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": CEP}]}
    ]
    vertex = sent(VERTEX, CONVERSATION)
    assert breakpoints(vertex) == ["messages.2.0"] and refusal(vertex, "claude-sonnet-4@20250514") is None


def test_a_deeply_nested_body_is_searched_without_recursion() -> None:
    deep: Any = {"type": "text", "text": "x"}
    for _ in range(5000):
        deep = {"content": [deep]}
    body = chat({"role": "user", "content": [deep]})
    assert not has_cache_control(body)
