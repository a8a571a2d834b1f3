"""Incremental Server-Sent Events decoder (WHATWG rules) for upstream streams.

Accepts bytes in any split, `\n`, `\r\n` or `\r` line ends, `event:`/`data:`/`id:` fields,
multi-line data, comments, and a final event with no trailing blank line (flushed by `close`).

Fast path: what LLM providers send is nearly always `data: <one line>` events separated by blank lines with `\n`
line ends. Such input is cut into events at each `\n\n` with bytes methods, and an event that is a single
`data: ` line is taken whole (its bytes kept as `raw`, so a pass-through can forward them without re-encoding);
anything else in a block (other fields, comments, several lines) goes through the line-by-line rules. Input with a
`\r` anywhere takes the line-by-line path throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class SSEEvent:
    event: str  # "message" when the stream gave no event name
    data: str
    # the event's bytes as received (`data: ...`, no line end) when it was one `data: ` line; else None
    raw: bytes | None = field(default=None, compare=False)


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
        if b"\r" not in buf and not self._data and self._event is None:
            self._buf = self._blocks(buf, out)
            return out
        self._buf = self._lines(buf, out)
        return out

    def _blocks(self, buf: bytes, out: list[SSEEvent]) -> bytes:
        """Whole events (`\n` line ends only, no event in progress): the bytes after the last blank line are
        returned, to wait for the rest of their event."""
        end = buf.rfind(b"\n\n")
        if end < 0:
            return buf
        for block in buf[:end].split(b"\n\n"):
            if block.startswith(b"data: ") and b"\n" not in block:
                out.append(SSEEvent("message", block[6:].decode("utf-8", "replace"), block))
            elif block:
                self._lines(block + b"\n", out)
                self._dispatch(out)
            # else: an extra blank line, which dispatches nothing
        return buf[end + 2 :]

    def _lines(self, buf: bytes, out: list[SSEEvent]) -> bytes:
        """Line by line, any line ends; returns the bytes after the last complete line."""
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
        return buf[start:]

    def close(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        buf, self._buf = self._buf, b""
        if buf:
            # complete lines the fast path left waiting for their blank line, then the last, unterminated one
            buf = self._lines(buf[:-1] if buf.endswith(b"\r") else buf, out)
            if buf:
                self._line(buf, out)
        elif not self._started:
            self._line(b"", out)
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
