"""The provider side of the client matrix (tests/e2e/clients/): which model reaches which upstream, and a neutral
view of what reached it, whatever the wire (OpenAI chat/Responses, Anthropic, Converse, Gemini)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from .agent_model import ANSWER
from .mock_upstream import Seen


@dataclass(frozen=True)
class Provider:
    name: str
    model: str
    path: str  # what the upstream request path contains
    claude: bool = False

    def __str__(self) -> str:
        return self.name


PROVIDERS = [
    Provider("openai", "gpt-5-mini/openai", "/openai/v1/"),
    Provider("anthropic", "claude-sonnet-4/anthropic", "/anthropic/v1/messages", claude=True),
    Provider("bedrock", "claude-sonnet-4/bedrock", "/bedrock/model/", claude=True),
    Provider("vertex", "claude-sonnet-4/vertex", "/vertex/", claude=True),
    Provider("gemini", "gemini-2.5-flash/google-ai-studio", "/gemini/"),
]
BY_NAME = {p.name: p for p in PROVIDERS}
WEATHER = {"temp_c": 21, "sky": "clear"}  # what every client's get_weather tool returns


def providers(**xfail: str) -> list[Any]:
    """PROVIDERS as pytest params; `xfail={name: reason}` marks known gateway bugs (strict: they fail once fixed)."""
    return [
        pytest.param(p, id=p.name, marks=pytest.mark.xfail(strict=True, reason=xfail[p.name]))
        if p.name in xfail
        else pytest.param(p, id=p.name)
        for p in PROVIDERS
    ]


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return json.dumps({"city": city, **WEATHER})


@dataclass
class Sent:
    """One upstream request, read the same way whatever its wire."""

    seen: Seen

    @property
    def body(self) -> dict[str, Any]:
        return self.seen.body

    @property
    def wire(self) -> str:
        p = self.seen.path
        if p.endswith("/chat/completions"):
            return "chat"
        if p.endswith("/responses"):
            return "responses"
        if "/converse" in p:
            return "converse"
        if ":generateContent" in p or ":streamGenerateContent" in p:
            return "gemini"
        return "anthropic"  # Messages, Vertex rawPredict, Bedrock InvokeModel

    @property
    def streamed(self) -> bool:
        return self.body.get("stream") is True or self.seen.path.endswith(
            (
                ":streamRawPredict",
                ":streamGenerateContent",
                "/converse-stream",
                "/invoke-with-response-stream",
            )
        )

    @property
    def reasoning(self) -> bool:
        b = self.body
        return {
            "chat": lambda: b.get("reasoning_effort") is not None,
            "responses": lambda: bool((b.get("reasoning") or {}).get("effort")),
            "anthropic": lambda: (b.get("thinking") or {}).get("type") in ("enabled", "adaptive"),
            "converse": lambda: "thinking" in (b.get("additionalModelRequestFields") or {}),
            "gemini": lambda: "thinkingConfig" in (b.get("generationConfig") or {}),
        }[self.wire]()

    @property
    def signed_thinking(self) -> bool:
        """The last assistant turn (Anthropic or Converse shape) leads with a thinking block the mock signed."""
        msgs = [m for m in self.body.get("messages") or [] if m.get("role") == "assistant"]
        first = msgs[-1]["content"][0] if msgs and isinstance(msgs[-1]["content"], list) else {}
        sig = first.get("signature") or (
            (first.get("reasoningContent") or {}).get("reasoningText") or {}
        ).get("signature")
        return str(sig or "").startswith("sig-mock-")

    @property
    def tool_results(self) -> list[tuple[str | None, str]]:
        """(call id, result text) of every tool result in the history; Gemini results carry the function name."""
        b, out = self.body, []
        if self.wire == "chat":
            out = [(m["tool_call_id"], _text(m["content"])) for m in b["messages"] if m.get("role") == "tool"]
        elif self.wire == "responses":
            items = b["input"] if isinstance(b.get("input"), list) else []
            out = [
                (i["call_id"], _text(i["output"])) for i in items if i.get("type") == "function_call_output"
            ]
        elif self.wire == "anthropic":
            out = [
                (x["tool_use_id"], _text(x.get("content")))
                for m in b["messages"]
                if isinstance(m["content"], list)
                for x in m["content"]
                if x.get("type") == "tool_result"
            ]
        elif self.wire == "converse":
            out = [
                (x["toolResult"]["toolUseId"], _text(x["toolResult"]["content"]))
                for m in b["messages"]
                for x in m["content"]
                if "toolResult" in x
            ]
        else:
            out = [
                (p["functionResponse"]["name"], _text(p["functionResponse"]["response"]))
                for c in b["contents"]
                for p in c.get("parts", [])
                if "functionResponse" in p
            ]
        return out

    @property
    def tool_calls(self) -> list[str]:
        """Ids of the assistant's earlier tool calls in the history (Gemini: function names)."""
        b = self.body
        if self.wire == "chat":
            return [c["id"] for m in b["messages"] for c in m.get("tool_calls") or []]
        if self.wire == "responses":
            items = b["input"] if isinstance(b.get("input"), list) else []
            return [i["call_id"] for i in items if i.get("type") == "function_call"]
        if self.wire == "anthropic":
            return [
                x["id"]
                for m in b["messages"]
                if isinstance(m["content"], list)
                for x in m["content"]
                if x.get("type") == "tool_use"
            ]
        if self.wire == "converse":
            return [x["toolUse"]["toolUseId"] for m in b["messages"] for x in m["content"] if "toolUse" in x]
        return [
            p["functionCall"]["name"]
            for c in b["contents"]
            for p in c.get("parts", [])
            if "functionCall" in p
        ]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_text(v.get("text", v.get("json", v)) if isinstance(v, dict) else v) for v in value)
    return json.dumps(value)


def sent(upstream: Any, mark: int, provider: Provider) -> list[Sent]:
    return [Sent(s) for s in upstream.since(mark, provider.path)]


def assert_tool_loop(upstream: Any, mark: int, provider: Provider, *, reasoning: bool = True) -> list[Sent]:
    """Two upstream calls: the first asked for reasoning and offered the tool; the second carried the tool's result,
    answering the call the first one made (same id; Gemini: same function name). The mock refuses every history a
    real provider refuses (thinking history, forced tools, ids), so reaching the second answer proves those too."""
    calls = sent(upstream, mark, provider)
    assert len(calls) == 2, [s.seen.path for s in calls]
    first, second = calls
    assert first.tool_results == []
    if reasoning:
        assert first.reasoning, first.body
    assert len(second.tool_results) == 1, second.body
    result_id, text = second.tool_results[0]
    assert result_id in second.tool_calls
    assert json.loads(text) == {"city": "Paris", **WEATHER}
    return calls


__all__ = [
    "ANSWER",
    "BY_NAME",
    "PROVIDERS",
    "WEATHER",
    "Provider",
    "Sent",
    "assert_tool_loop",
    "get_weather",
    "providers",
    "sent",
]
