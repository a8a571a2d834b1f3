"""Vertex answers in the model family's own format: Gemini JSON/SSE for Gemini, Anthropic JSON/SSE for
Claude (rawPredict is a raw passthrough). The executor's parse calls carry no target, so the family is read
from the body itself; the checks are cheap and unambiguous (Anthropic bodies always carry a top-level
`type`, Gemini bodies never do). Errors come either in Google's RPC envelope (`{"error": {"code",
"message", "status"}}`, sometimes inside a list) or, for Claude, in Anthropic's (`{"type": "error", "error":
{"type", "message"}}`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..anthropic.response import parse_error as anthropic_error
from ..anthropic.response import parse_response as anthropic_response
from ..anthropic.stream import AnthropicStreamParser
from ..base import UpstreamError
from ..gemini.response import parse_error as gemini_error
from ..gemini.response import parse_response as gemini_response
from ..gemini.stream import GeminiStreamParser

_ANTHROPIC_TYPES = frozenset({"message", "error"})


def is_anthropic(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("type") in _ANTHROPIC_TYPES


def parse_response(body: bytes, created: int) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if is_anthropic(doc):
        return anthropic_response(body)
    return gemini_response(body, created=created)


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, list) and doc:
        doc = doc[0]
    if _anthropic_error(doc):
        return anthropic_error(status, headers, body)
    err = gemini_error(status, headers, body)
    if err.message == f"HTTP {status} from Gemini":  # no body: name the service actually called
        err.message = f"HTTP {status} from Vertex AI"
        err.args = (err.message,)
    return err


def _anthropic_error(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    if doc.get("type") == "error":
        return True
    err = doc.get("error")
    # Google's envelope carries `code`/`status`; Anthropic's carries `type`
    return (
        isinstance(err, dict)
        and isinstance(err.get("type"), str)
        and "status" not in err
        and "code" not in err
    )


class VertexStreamParser:
    """Buffers the first bytes until the family shows (first `event:` line, or first complete `data:`
    line), then hands everything to the Anthropic or Gemini stream parser."""

    __slots__ = ("_buffer", "_created", "_inner")

    def __init__(self, *, created: int) -> None:
        self._created = created
        self._buffer = b""
        self._inner: AnthropicStreamParser | GeminiStreamParser | None = None

    @property
    def family(self) -> str | None:
        if self._inner is None:
            return None
        return "claude" if isinstance(self._inner, AnthropicStreamParser) else "gemini"

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if self._inner is not None:
            return self._inner.feed(data)
        self._buffer += data
        anthropic = _sniff(self._buffer)
        if anthropic is None:
            return []
        return self._start(anthropic)

    def close(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self._inner is None:  # never decided: whatever there is goes to the Gemini parser
            out = self._start(bool(_sniff(self._buffer + b"\n")))
        assert self._inner is not None
        return out + self._inner.close()

    def _start(self, anthropic: bool) -> list[dict[str, Any]]:
        self._inner = (
            AnthropicStreamParser(created=self._created)
            if anthropic
            else GeminiStreamParser(created=self._created)
        )
        data, self._buffer = self._buffer, b""
        return self._inner.feed(data) if data else []


def _sniff(buffer: bytes) -> bool | None:
    """True: Anthropic SSE; False: Gemini; None: cannot tell yet."""
    start = buffer.lstrip()
    if start[:1] in (b"[", b"{"):  # a JSON (array) body rather than SSE: Gemini without alt=sse
        return False
    for raw in buffer.splitlines(keepends=True):
        if not raw.endswith((b"\n", b"\r")):
            return None  # an incomplete line: wait for more
        line = raw.strip()
        if line.startswith(b"event:"):
            return True  # Gemini's SSE has no event names; Anthropic names every event
        if line.startswith(b"data:"):
            try:
                doc = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                return False
            return isinstance(doc, dict) and "type" in doc
    return None
