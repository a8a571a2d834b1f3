"""Anthropic Messages SSE → OpenAI `chat.completion.chunk` dicts. Incremental, any byte split.

Chunk sequence: a role chunk at `message_start`; content / reasoning_content / tool_calls deltas; at the
end of each thinking block one chunk carrying `thinking_blocks: [{type, thinking, signature}]` (what a
client sends back on the next turn); a finish_reason chunk at `message_delta`; then a usage chunk with
`choices: []` at `message_stop` (or at close, if the stream stopped after `message_delta`).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ...formats.sse import SSEDecoder
from ..base import UpstreamError
from ..chat_chunks import ChatChunks, thinking_blocks
from .request import JSON_TOOL
from .response import ERROR_TYPES, finish_reason, usage


class AnthropicStreamParser:
    def __init__(self, created: int | None = None) -> None:
        self._sse = SSEDecoder()
        self._out = ChatChunks(created=int(time.time()) if created is None else created)
        self._usage: dict[str, Any] = {}
        self._blocks: dict[int, dict[str, Any]] = {}  # Anthropic block index → state
        self._finished = False  # message_delta seen
        self._done = False  # usage chunk emitted (message_stop)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in self._sse.feed(data):
            self._event(event.event, event.data, out)
        return out

    def close(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in self._sse.close():
            self._event(event.event, event.data, out)
        if not self._finished:
            raise UpstreamError(502, "server", "Anthropic stream ended early (no message_delta)")
        if not self._done:
            out.append(self._out.usage(usage(self._usage)))
            self._done = True
        return out

    # --- events ---------------------------------------------------------------------------------

    def _event(self, name: str, data: str, out: list[dict[str, Any]]) -> None:
        if name == "ping" or self._done:
            return
        try:
            ev = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                502, "server", f"Anthropic stream sent invalid JSON in {name!r} event", body=data.encode()
            ) from None
        if not isinstance(ev, dict):
            ev = {}
        kind = ev.get("type") or name
        if kind == "error":
            self._error(ev, data)
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) else None
        if handler is not None:
            handler(ev, out)

    def _error(self, ev: dict[str, Any], data: str) -> None:
        err = ev.get("error")
        err = err if isinstance(err, dict) else {}
        error_type = err.get("type") if isinstance(err.get("type"), str) else None
        status, kind = ERROR_TYPES.get(error_type or "", (500, "server"))
        if kind != "overloaded" and kind != "rate_limited":
            status, kind = 500, "server"
        message = err.get("message") or "Anthropic stream reported an error"
        raise UpstreamError(status, kind, message, type=error_type, body=data.encode())

    def _on_message_start(self, ev: dict[str, Any], out: list[dict[str, Any]]) -> None:
        msg = ev.get("message") or {}
        self._out.id = msg.get("id") or self._out.id
        self._out.model = msg.get("model") or self._out.model
        self._usage.update(msg.get("usage") or {})
        out.append(self._out.role())

    def _on_content_block_start(self, ev: dict[str, Any], out: list[dict[str, Any]]) -> None:
        block = ev.get("content_block") or {}
        kind = block.get("type")
        state: dict[str, Any] = {"type": kind}
        self._blocks[ev.get("index", 0)] = state
        if kind == "text" and block.get("text"):
            out.append(self._out.chunk({"content": block["text"]}))
        elif kind == "thinking":
            state["thinking"] = [block.get("thinking") or ""]
            state["signature"] = block.get("signature") or ""
            if block.get("thinking"):
                out.append(self._out.chunk({"reasoning_content": block["thinking"]}))
        elif kind == "redacted_thinking":
            out.append(self._out.thinking([{"type": "redacted_thinking", "data": block.get("data", "")}]))
        elif kind == "tool_use" and block.get("name") == JSON_TOOL:
            state["type"] = "json_tool"
        elif kind == "tool_use":
            state["tool"], opening = self._out.tool_call(block.get("id"), block.get("name"))
            out.append(opening)
            if block.get("input"):  # some proxies send the whole input here instead of deltas
                self._args(state, orjson.dumps(block["input"]).decode(), out)

    def _on_content_block_delta(self, ev: dict[str, Any], out: list[dict[str, Any]]) -> None:
        delta = ev.get("delta") or {}
        state = self._blocks.get(ev.get("index", 0), {})
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            out.append(self._out.chunk({"content": delta["text"]}))
        elif kind == "thinking_delta" and delta.get("thinking"):
            state.setdefault("thinking", []).append(delta["thinking"])
            out.append(self._out.chunk({"reasoning_content": delta["thinking"]}))
        elif kind == "signature_delta":
            state["signature"] = state.get("signature", "") + (delta.get("signature") or "")
        elif kind == "input_json_delta" and delta.get("partial_json"):
            self._args(state, delta["partial_json"], out)

    def _args(self, state: dict[str, Any], partial: str, out: list[dict[str, Any]]) -> None:
        if state.get("type") == "json_tool":
            out.append(self._out.chunk({"content": partial}))
        elif "tool" in state:
            out.append(self._out.tool_arguments(state["tool"], partial))

    def _on_content_block_stop(self, ev: dict[str, Any], out: list[dict[str, Any]]) -> None:
        state = self._blocks.get(ev.get("index", 0), {})
        if state.get("type") == "thinking":
            blocks = thinking_blocks(state.get("thinking", []), state.get("signature", ""))
            if blocks:
                out.append(self._out.thinking(blocks))

    def _on_message_delta(self, ev: dict[str, Any], out: list[dict[str, Any]]) -> None:
        self._usage.update({k: v for k, v in (ev.get("usage") or {}).items() if v is not None})
        self._finished = True
        out.append(self._out.finish(finish_reason((ev.get("delta") or {}).get("stop_reason"))))

    def _on_message_stop(self, ev: dict[str, Any], out: list[dict[str, Any]]) -> None:
        if not self._finished:
            raise UpstreamError(502, "server", "Anthropic stream stopped without message_delta")
        out.append(self._out.usage(usage(self._usage)))
        self._done = True
