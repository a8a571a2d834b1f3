"""A request offering a protocol upgrade (`Connection: Upgrade` with `Upgrade: h2c`, `websocket`, …, or a CONNECT)
is served as the plain HTTP/1.1 request it also is: no 101, its body read by its own framing, its answer sent with
`connection: close`, and nothing after it on that connection parsed as a request.

RFC 9110 §7.8: a server may ignore Upgrade and keep using the current protocol (and must ignore it in an HTTP/1.0
request). What nginx and Node do; `curl --http2` on an http:// URL offers h2c on every first request.

Why a second parser: httptools (llhttp) ends an upgrade request at its head. Its `on_headers_complete` callback
returns "skip the body" whenever the upgrade flag is set, so llhttp completes the message with no body
(`on_message_complete`) and pauses; `feed_data` raises `HttpParserUpgrade(offset)`, the offset of the first byte
after the head in the buffer it was given, resumes the parser at once, and parses whatever is fed next as a new
request. uvicorn (ws="none") only logged "Unsupported upgrade request." and dropped the rest of the buffer: the
application read an empty body, and a body arriving in a later packet was parsed as requests (a request hidden in
the body was served: request smuggling).

Here the connection's parser is replaced by a new one fed a replayed head — the original method, version and
framing headers (every Content-Length and Transfer-Encoding as received, in order), no Upgrade — and then the
bytes after the original head. So the body is framed by the same llhttp rules as any request's (chunked, a bad
Transfer-Encoding → 400, conflicting lengths → 400), by a parser in a fresh state; its `on_body` and
`on_message_complete` go to the protocol, its head callbacks nowhere (the cycle was started from the original
head: the application sees the request's own headers). A CONNECT has no content (RFC 9110 §9.3.6): it is
complete at its head.

Why the connection is closed after the answer rather than kept alive: the bytes after an upgrade offer are where
the two ends may disagree about the protocol. A front proxy that switches to a tunnel when it forwards the offer
(instead of when it sees a 101) would pass whatever the client sends next straight to the gateway, past the
proxy's own rules ("WebSocket/h2c smuggling"); the old code served those requests. Parsing nothing after the
upgrade request's body removes that class of desync, at the cost of one new connection for a client that offered
an upgrade (a client must retry unanswered pipelined requests after `connection: close`, RFC 9112 §9.3.2).
"""

from __future__ import annotations

from collections.abc import Callable

import httptools

_FRAMING = (b"content-length", b"transfer-encoding")


def replayed_head(method: bytes, http_version: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The head that frames an upgrade request's body for a fresh parser: its method, version and framing headers
    only (names lowercased by uvicorn's `on_header`, values as llhttp delivered them)."""
    lines = [b"%s / HTTP/%s\r\n" % (method, http_version.encode("ascii"))]
    lines += [b"%s: %s\r\n" % (name, value) for name, value in headers if name in _FRAMING]
    lines.append(b"\r\n")
    return b"".join(lines)


class DeclinedUpgradeBody:
    """The callbacks of the parser that reads a declined upgrade request's body: its body and its end go to the
    protocol, once; anything the parser finds after that end is ignored (the protocol discards it)."""

    __slots__ = ("_on_body", "_on_complete", "done", "parser")

    def __init__(self, on_body: Callable[[bytes], None], on_complete: Callable[[], None]) -> None:
        self._on_body = on_body
        self._on_complete = on_complete
        self.done = False
        self.parser = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)  # as uvicorn sets its own

    def on_body(self, body: bytes) -> None:
        if not self.done:
            self._on_body(body)

    def on_message_complete(self) -> None:
        if not self.done:
            self.done = True
            self._on_complete()
