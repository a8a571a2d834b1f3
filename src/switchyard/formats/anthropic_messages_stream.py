"""OpenAI `chat.completion.chunk` dicts → Anthropic Messages SSE, for an Anthropic-SDK caller on any provider.

Stateful: one `MessagesStreamEncoder` per streamed request. Event order follows Anthropic's protocol:
`message_start`, then content blocks one at a time (`content_block_start`, deltas, `content_block_stop`, with
indexes 0, 1, 2, ...), then one `message_delta` (stop_reason + usage) and `message_stop`.

- `delta.reasoning_content` (or `delta.reasoning`) → a `thinking` block with `thinking_delta`s. A
  `thinking_blocks` delta (what the Anthropic stream parser emits when a thinking block ends) adds the
  `signature_delta` and closes the block; a thinking block that was never streamed is sent whole.
  `redacted_thinking` becomes a block of its own.
- `delta.content` → a `text` block with `text_delta`s.
- each new tool call → a `tool_use` block `{id, name, input: {}}`, its argument fragments `input_json_delta`s.
  Arguments for an earlier (already closed) tool call, which only interleaving providers send, are still
  sent with that call's block index (the SDK accumulates by index).
- `finish_reason` closes the open block. OpenAI sends usage in a later usage-only chunk, so `message_delta`
  goes out when usage arrives, or at `done()`, whichever comes first. `message_start` carries the input
  tokens only if the first chunk already has usage (rarely); the final counts are on `message_delta`, which
  the SDK applies as totals.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import GatewayError
from ..ids import new_request_id

# OpenAI finish_reason → Anthropic stop_reason. OpenAI does not say whether a stop sequence ended the answer.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def stop_reason(finish: str | None, has_tool_use: bool) -> str:
    reason = STOP_REASONS.get(finish or "stop", "end_turn")
    # OpenAI answers a forced (named) tool_choice with finish_reason "stop"; Anthropic callers loop on tool_use.
    if reason == "end_turn" and has_tool_use:
        return "tool_use"
    return reason


def message_id(raw: Any) -> str:
    if isinstance(raw, str) and raw.startswith("msg_"):
        return raw
    if isinstance(raw, str) and raw:
        return "msg_" + raw
    return "msg_" + new_request_id().replace("-", "")


def tool_use_id(raw: Any) -> str:
    return raw if isinstance(raw, str) and raw else "toolu_" + new_request_id().replace("-", "")


def anthropic_usage(u: Any) -> dict[str, int]:
    """OpenAI usage → Anthropic usage: `input_tokens` excludes cache reads and writes (Anthropic semantics)."""
    u = u if isinstance(u, dict) else {}
    details = u.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached = _int(details.get("cached_tokens")) or _int(u.get("cache_read_input_tokens"))
    written = _int(details.get("cache_write_tokens")) or _int(u.get("cache_creation_input_tokens"))
    prompt = _int(u.get("prompt_tokens"))
    return {
        "input_tokens": max(prompt - cached - written, 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": _int(u.get("completion_tokens")),
    }


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def sse(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def error_event(err: GatewayError) -> bytes:
    return b"event: error\ndata: " + err.anthropic_body() + b"\n\n"


class MessagesStreamEncoder:
    """Turns one request's OpenAI chunks into Anthropic SSE bytes. Never share an instance between requests."""

    __slots__ = (
        "_closed",
        "_delta_sent",
        "_finish",
        "_next",
        "_open",
        "_open_kind",
        "_started",
        "_tool_ids",
        "_tools",
        "_usage",
    )

    def __init__(self) -> None:
        self._started = False
        self._closed = False  # message_stop (or an error event) sent
        self._delta_sent = False  # message_delta sent
        self._finish: str | None = None  # finish_reason seen (None: not finished yet)
        self._usage: dict[str, Any] | None = None
        self._next = 0  # next content block index
        self._open = -1  # index of the open block, -1 if none
        self._open_kind = ""
        self._tools: dict[int, int] = {}  # OpenAI tool_calls index → block index
        self._tool_ids: dict[int, str] = {}

    # --- public -----------------------------------------------------------------------------------

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        if self._closed:
            return b""
        out: list[bytes] = []
        if not self._started:
            self._start(chunk, out)
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        if self._finish is None:
            for choice in chunk.get("choices") or ():
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue  # Anthropic has one answer per message; n > 1 is not representable
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    self._delta(delta, out)
                if choice.get("finish_reason"):
                    self._close_block(out)
                    self._finish = choice["finish_reason"]
        if self._finish is not None and self._usage is not None and not self._delta_sent:
            self._message_delta(out)
        return b"".join(out)

    def done(self) -> bytes:
        if self._closed:
            return b""
        out: list[bytes] = []
        if not self._started:
            self._start({}, out)
        self._close_block(out)
        if not self._delta_sent:
            self._message_delta(out)
        out.append(sse("message_stop", {"type": "message_stop"}))
        self._closed = True
        return b"".join(out)

    def error_event(self, err: GatewayError) -> bytes:
        self._closed = True
        return error_event(err)

    # --- events -----------------------------------------------------------------------------------

    def _start(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        self._started = True
        usage = chunk.get("usage")
        start_usage = {"input_tokens": 0, "output_tokens": 0}
        if isinstance(usage, dict):
            full = anthropic_usage(usage)
            start_usage = {**full, "output_tokens": 0}
        message: dict[str, Any] = {
            "id": message_id(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model") or "",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": start_usage,
        }
        out.append(sse("message_start", {"type": "message_start", "message": message}))

    def _delta(self, delta: dict[str, Any], out: list[bytes]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._ensure("thinking", out)
            self._block_delta({"type": "thinking_delta", "thinking": reasoning}, out)
        for tb in delta.get("thinking_blocks") or ():
            if isinstance(tb, dict):
                self._thinking_block(tb, out)
        text = delta.get("content") or delta.get("refusal")
        if isinstance(text, str) and text:
            self._ensure("text", out)
            self._block_delta({"type": "text_delta", "text": text}, out)
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._tool_call(call, out)

    def _thinking_block(self, tb: dict[str, Any], out: list[bytes]) -> None:
        if tb.get("type") == "redacted_thinking":
            self._close_block(out)
            self._open_block({"type": "redacted_thinking", "data": tb.get("data") or ""}, "redacted", out)
            self._close_block(out)
            return
        if self._open_kind != "thinking":  # not streamed before: send the whole block
            self._ensure("thinking", out)
            if tb.get("thinking"):
                self._block_delta({"type": "thinking_delta", "thinking": tb["thinking"]}, out)
        if tb.get("signature"):
            self._block_delta({"type": "signature_delta", "signature": tb["signature"]}, out)
        self._close_block(out)

    def _tool_call(self, call: dict[str, Any], out: list[bytes]) -> None:
        idx = call.get("index")
        if not isinstance(
            idx, int
        ):  # no index: an id starts a new call, anything else continues the last one
            last = max(self._tools, default=-1)
            idx = last + 1 if call.get("id") or last < 0 else last
        fn = call.get("function")
        fn = fn if isinstance(fn, dict) else {}
        cid = call.get("id")
        # A known index with a different id is a new call (some servers reuse index 0 for every call).
        if idx not in self._tools or (cid and cid != self._tool_ids.get(idx)):
            self._close_block(out)
            block_id = tool_use_id(cid)
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": block_id,
                "name": fn.get("name") or "",
                "input": {},
            }
            self._tools[idx] = self._open_block(block, "tool", out)
            self._tool_ids[idx] = block_id
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            index = self._tools[idx]
            payload = {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": args},
            }
            out.append(sse("content_block_delta", payload))

    # --- blocks -----------------------------------------------------------------------------------

    def _ensure(self, kind: str, out: list[bytes]) -> None:
        if self._open_kind == kind:
            return
        self._close_block(out)
        if kind == "text":
            self._open_block({"type": "text", "text": ""}, kind, out)
        else:
            self._open_block({"type": "thinking", "thinking": "", "signature": ""}, kind, out)

    def _open_block(self, block: dict[str, Any], kind: str, out: list[bytes]) -> int:
        index = self._next
        self._next += 1
        self._open, self._open_kind = index, kind
        out.append(
            sse(
                "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
            )
        )
        return index

    def _block_delta(self, delta: dict[str, Any], out: list[bytes]) -> None:
        out.append(
            sse("content_block_delta", {"type": "content_block_delta", "index": self._open, "delta": delta})
        )

    def _close_block(self, out: list[bytes]) -> None:
        if self._open >= 0:
            out.append(sse("content_block_stop", {"type": "content_block_stop", "index": self._open}))
            self._open, self._open_kind = -1, ""

    def _message_delta(self, out: list[bytes]) -> None:
        self._delta_sent = True
        usage: dict[str, int] = {"output_tokens": 0}
        if self._usage is not None:
            usage = anthropic_usage(self._usage)
        delta = {"stop_reason": stop_reason(self._finish, bool(self._tools)), "stop_sequence": None}
        out.append(sse("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
