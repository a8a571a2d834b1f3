"""Bedrock ConverseStream (`application/vnd.amazon.eventstream`) → OpenAI `chat.completion.chunk` dicts.

The binary framing (prelude, headers, payload, CRCs) is decoded by botocore's `EventStreamBuffer`, so any
byte split gives the same output. Each frame is an event (`:message-type: event`, `:event-type` names it,
the payload is JSON) or an error (`:message-type: exception` with `:exception-type`, or `error` with
`:error-code`), which raises `UpstreamError`.

Chunk sequence: a role chunk at `messageStart`; content / reasoning_content / tool_calls deltas; at the end
of each reasoning block one chunk carrying `thinking_blocks` (what a client sends back on the next turn);
a finish_reason chunk at `messageStop`; a usage chunk with `choices: []` from `metadata`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import orjson

from ..anthropic.request import JSON_TOOL
from ..base import UpstreamError, kind_for_status
from ..chat_chunks import ChatChunks, thinking_blocks
from .response import STREAM_STATUS, error_for, finish_reason, usage

if TYPE_CHECKING:
    from botocore.eventstream import EventStreamBuffer, EventStreamMessage


def event_stream_buffer() -> EventStreamBuffer:
    """botocore's event-stream decoder, imported when a Bedrock stream is first read (not at start-up)."""
    from botocore.eventstream import EventStreamBuffer

    return EventStreamBuffer()


def is_parser_error(exc: BaseException) -> bool:
    from botocore.eventstream import ParserError

    return isinstance(exc, ParserError)


class BedrockStreamParser:
    __slots__ = ("_blocks", "_buffer", "_finished", "_out", "_started", "_usage", "_usage_sent")

    def __init__(self, *, created: int, model: str = "", response_id: str | None = None) -> None:
        self._buffer = event_stream_buffer()
        # Converse streams carry no id
        self._out = ChatChunks(created=created, id=response_id or f"chatcmpl-{uuid.uuid4().hex}", model=model)
        self._started = False
        self._blocks: dict[int, dict[str, Any]] = {}  # contentBlockIndex → state
        self._finished = False  # messageStop seen
        self._usage: dict[str, Any] | None = None
        self._usage_sent = False

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not data:
            return out
        self._buffer.add_data(data)
        try:
            for message in self._buffer:
                self._message(message, out)
        except Exception as exc:
            if not is_parser_error(exc):
                raise
            raise UpstreamError(
                502, "server", f"corrupt Bedrock event stream ({type(exc).__name__}: {exc})"
            ) from None
        return out

    def close(self) -> list[dict[str, Any]]:
        if not self._finished:
            raise UpstreamError(502, "server", "Bedrock stream ended early (no messageStop)")
        out: list[dict[str, Any]] = []
        self._flush_usage(out)
        return out

    # --- frames ---------------------------------------------------------------------------------

    def _message(self, message: EventStreamMessage, out: list[dict[str, Any]]) -> None:
        headers = message.headers
        kind = headers.get(":message-type", "event")
        if kind == "exception":
            self._exception(str(headers.get(":exception-type") or ""), message.payload)
        if kind == "error":
            code = str(headers.get(":error-code") or "")
            text = str(headers.get(":error-message") or "Bedrock stream reported an error")
            raise error_for(STREAM_STATUS.get(code.lower(), 500), code or None, text, body=message.payload)
        name = headers.get(":event-type")
        try:
            event = orjson.loads(message.payload) if message.payload else {}
        except orjson.JSONDecodeError:
            raise UpstreamError(
                502, "server", f"Bedrock stream sent invalid JSON in {name!r} event", body=message.payload
            ) from None
        handler = getattr(self, f"_on_{name}", None) if isinstance(name, str) else None
        if handler is not None and isinstance(event, dict):
            handler(event, out)

    def _exception(self, name: str, payload: bytes) -> None:
        try:
            data = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            data = {}
        data = data if isinstance(data, dict) else {}
        text = (
            data.get("message") or data.get("Message") or f"Bedrock stream reported {name or 'an exception'}"
        )
        err = error_for(STREAM_STATUS.get(name.lower(), 500), name or None, str(text), body=payload)
        original = data.get("originalStatusCode")
        if name.lower() == "modelstreamerrorexception" and original in (429, 503, 529):
            err.kind = kind_for_status(original)  # the model behind Bedrock was busy, not broken
        raise err

    # --- events ---------------------------------------------------------------------------------

    def _on_messageStart(self, event: dict[str, Any], out: list[dict[str, Any]]) -> None:
        if not self._started:
            self._started = True
            out.append(self._out.role())

    def _on_contentBlockStart(self, event: dict[str, Any], out: list[dict[str, Any]]) -> None:
        use = (event.get("start") or {}).get("toolUse")
        if isinstance(use, dict):
            self._tool_state(event.get("contentBlockIndex", 0), use.get("toolUseId"), use.get("name"), out)

    def _on_contentBlockDelta(self, event: dict[str, Any], out: list[dict[str, Any]]) -> None:
        index = event.get("contentBlockIndex", 0)
        delta = event.get("delta") or {}
        state = self._blocks.setdefault(index, {"type": "text"})
        if isinstance(delta.get("text"), str):
            if delta["text"]:
                self._emit(out, {"content": delta["text"]})
        elif isinstance(delta.get("toolUse"), dict):
            if state["type"] == "text":  # input without a contentBlockStart: still a call
                state = self._tool_state(index, None, None, out)
            partial = delta["toolUse"].get("input")
            if isinstance(partial, str) and partial:
                if state["type"] == "json_tool":
                    self._emit(out, {"content": partial})
                else:
                    self._add(out, self._out.tool_arguments(state["tool"], partial))
        elif isinstance(delta.get("reasoningContent"), dict):
            reasoning = delta["reasoningContent"]
            if state["type"] == "text":
                state.update(type="reasoning", text=[], signature="", redacted=[])
            if isinstance(reasoning.get("text"), str) and reasoning["text"]:
                state["text"].append(reasoning["text"])
                self._emit(out, {"reasoning_content": reasoning["text"]})
            if isinstance(reasoning.get("signature"), str):
                state["signature"] += reasoning["signature"]
            if isinstance(reasoning.get("redactedContent"), str):
                state["redacted"].append(reasoning["redactedContent"])

    def _on_contentBlockStop(self, event: dict[str, Any], out: list[dict[str, Any]]) -> None:
        state = self._blocks.get(event.get("contentBlockIndex", 0)) or {}
        if state.get("type") != "reasoning":
            return
        blocks = thinking_blocks(state["text"], state["signature"], state["redacted"])
        if blocks:
            self._add(out, self._out.thinking(blocks))

    def _on_messageStop(self, event: dict[str, Any], out: list[dict[str, Any]]) -> None:
        self._add(out, self._out.finish(finish_reason(event.get("stopReason"))))
        self._finished = True
        self._flush_usage(out)

    def _on_metadata(self, event: dict[str, Any], out: list[dict[str, Any]]) -> None:
        if isinstance(event.get("usage"), dict):
            self._usage = event["usage"]
        if self._finished:
            self._flush_usage(out)

    # --- chunks ---------------------------------------------------------------------------------

    def _tool_state(self, index: int, tool_id: Any, name: Any, out: list[dict[str, Any]]) -> dict[str, Any]:
        if name == JSON_TOOL:
            state: dict[str, Any] = {"type": "json_tool"}
        else:
            call, opening = self._out.tool_call(tool_id, name)
            state = {"type": "tool", "tool": call}
            self._add(out, opening)
        self._blocks[index] = state
        return state

    def _emit(self, out: list[dict[str, Any]], delta: dict[str, Any]) -> None:
        self._add(out, self._out.chunk(delta))

    def _add(self, out: list[dict[str, Any]], chunk: dict[str, Any]) -> None:
        if self._finished:
            return  # nothing belongs to the choice after messageStop
        if not self._started:
            self._started = True
            out.append(self._out.role())
        out.append(chunk)

    def _flush_usage(self, out: list[dict[str, Any]]) -> None:
        if self._usage is None or self._usage_sent:
            return
        self._usage_sent = True
        out.append(self._out.usage(usage(self._usage)))
