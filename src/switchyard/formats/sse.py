"""Incremental Server-Sent Events decoder (WHATWG rules) for upstream streams.

Accepts bytes in any split, `\n`, `\r\n` or `\r` line ends, `event:`/`data:`/`id:` fields,
multi-line data, comments, and a final event with no trailing blank line (flushed by `close`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    event: str  # "message" when the stream gave no event name
    data: str


class SSEDecoder:
    __slots__ = ("_buf", "_data", "_event", "_started")

    def __init__(self) -> None:
        self._buf = b""
        self._started = False
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._buf + chunk
        if not self._started:
            if len(buf) < 3 and b"\xef\xbb\xbf".startswith(buf):
                self._buf = buf  # maybe the start of a byte-order mark: wait for more
                return []
            self._started = True
            if buf.startswith(b"\xef\xbb\xbf"):
                buf = buf[3:]
        out: list[SSEEvent] = []
        start = 0
        n = len(buf)
        while start < n:
            nl = buf.find(b"\n", start)
            cr = buf.find(b"\r", start)
            if nl < 0 and cr < 0:
                break
            if cr >= 0 and (nl < 0 or cr < nl):
                if cr + 1 == n:  # a lone \r at the end may be the first half of \r\n
                    break
                end, nxt = cr, cr + 2 if buf[cr + 1 : cr + 2] == b"\n" else cr + 1
            else:
                end, nxt = nl, nl + 1
            self._line(buf[start:end], out)
            start = nxt
        self._buf = buf[start:]
        return out

    def close(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if self._buf:
            tail = self._buf[:-1] if self._buf.endswith(b"\r") else self._buf
            self._buf = b""
            if tail or not self._started:
                self._line(tail, out)
        self._dispatch(out)
        return out

    def _line(self, raw: bytes, out: list[SSEEvent]) -> None:
        if not raw:
            self._dispatch(out)
            return
        line = raw.decode("utf-8", "replace")
        if line[0] == ":":
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        # id / retry are not needed by the gateway

    def _dispatch(self, out: list[SSEEvent]) -> None:
        if self._data:
            out.append(SSEEvent(self._event or "message", "\n".join(self._data)))
        self._data = []
        self._event = None
