"""The OpenAI `chat.completion.chunk` dicts of one translated single-choice stream, built in one place.

Shared by the stream parsers of Claude's two wire formats (Anthropic SSE and Bedrock ConverseStream), which map
the same block structure (text, thinking, tool use, the reserved `response_format` tool) onto the same chunks:
- a role chunk first; content / `reasoning_content` / `tool_calls` deltas; one chunk carrying `thinking_blocks`
  at the end of each reasoning block (what a client sends back on the next turn);
- a tool call opens with its id and name and empty arguments, then argument deltas under the same index;
- the finish reason is `tool_calls` only if a real tool was called (the reserved tool's JSON is `content`);
- usage travels in a last chunk with `choices: []`, as OpenAI sends it with `include_usage`.
"""

from __future__ import annotations

from typing import Any


class ChatChunks:
    """Chunk factory for one stream: id, model and `created` stamped on every chunk; tool indexes counted."""

    __slots__ = ("created", "id", "model", "real_tool", "tools")

    def __init__(self, *, created: int, id: str = "", model: str = "") -> None:
        self.created = created
        self.id = id
        self.model = model
        self.tools = 0  # next OpenAI tool_calls index
        self.real_tool = False  # a tool other than the reserved response_format tool was called

    def _base(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out = self._base()
        out["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return out

    def role(self) -> dict[str, Any]:
        return self.chunk({"role": "assistant", "content": ""})

    def tool_call(self, tool_id: Any, name: Any) -> tuple[int, dict[str, Any]]:
        """(the call's index, the chunk that opens it)."""
        index = self.tools
        self.tools += 1
        self.real_tool = True
        call = {
            "index": index,
            "id": tool_id or f"call_{index}",
            "type": "function",
            "function": {"name": name or "", "arguments": ""},
        }
        return index, self.chunk({"tool_calls": [call]})

    def tool_arguments(self, index: int, partial: str) -> dict[str, Any]:
        return self.chunk({"tool_calls": [{"index": index, "function": {"arguments": partial}}]})

    def thinking(self, blocks: list[dict[str, Any]]) -> dict[str, Any]:
        return self.chunk({"thinking_blocks": blocks})

    def finish(self, reason: str | None) -> dict[str, Any]:
        """The finish chunk; `tool_calls` becomes `stop` when only the reserved response_format tool ran."""
        reason = reason or "stop"
        if reason == "tool_calls" and not self.real_tool:
            reason = "stop"
        return self.chunk({}, reason)

    def usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        out = self._base()
        out["choices"] = []
        out["usage"] = usage
        return out


def thinking_blocks(
    text: list[str], signature: str, redacted: list[str] | None = None
) -> list[dict[str, Any]]:
    """The `thinking_blocks` of one finished reasoning block (text with its signature, and redacted data)."""
    blocks: list[dict[str, Any]] = []
    if text or signature:
        blocks.append({"type": "thinking", "thinking": "".join(text), "signature": signature})
    if redacted:
        blocks.append({"type": "redacted_thinking", "data": "".join(redacted)})
    return blocks
