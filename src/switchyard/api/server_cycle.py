"""One request's exchange on the server side: uvicorn's request/response cycle, started leaner, offering the
application three ASGI extensions: `switchyard.whole_response` (a whole answer in one write),
`switchyard.stream_start` (a chunked answer's head with its first chunk in one write, joined by the rest of the
body when that is already here) and `switchyard.on_disconnect` (a callback when the caller leaves mid-answer,
instead of a task waiting on `receive`).

A proxied answer that is complete in memory (a completion, an error) is written with one `transport.write` of
status line, headers and body, instead of ASGI's two `send` calls (two socket writes, and uvicorn's per-header
regular expressions). The head is still checked before anything is written: no byte below 0x20 other than the
CR LF that end its lines and no DEL (header injection, response splitting), the same rule as uvicorn's header
value check. The names are the gateway's own or came through an HTTP parser (httptools), which accepts only
token characters. An application that does not find the extension (another ASGI server, httpx's ASGITransport
in the in-process tests) uses the two `send` calls.

`start_cycle` is uvicorn's `on_headers_complete` less what this server never uses (WebSocket upgrade: ws="none";
`limit_concurrency`: the gateway bounds connections and requests itself, api/server_limits.py and app.py).
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from .asgi import ON_DISCONNECT, STREAM_START, WHOLE_RESPONSE

_CONTROL = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # a head's bytes other than its line ends


class HeadRejected(RuntimeError):
    """A header name or value that would break the head (a control byte, a CR or LF of its own)."""


class WholeResponseCycle(RequestResponseCycle):
    on_disconnect: Callable[[], None] | None = None  # see watch_disconnect
    # A stream's head and first chunk, held until the end of the loop's current iteration (write_stream_start)
    _corked: list[bytes] | None = None
    # How the connection ends after an answer that closes it (HTTP/1.0, `connection: close`, a declined upgrade):
    # the protocol's graceful close while the request's body is still arriving (api/server_limits.py)
    close_connection: Callable[[], None] | None = None

    async def run_asgi(self, app: Any) -> None:
        try:
            await super().run_asgi(app)
        finally:
            # The extensions are this cycle's bound methods, kept in its own scope: a reference cycle that only a
            # garbage collection would free, with the request's buffered body (up to 64 KiB and more) inside it.
            # Broken here, the cycle is freed as soon as the connection moves on (hostile callers sending large
            # bodies grew the process by ~50 MB in 8 s before this: tests/e2e/test_server_limits.py).
            self.scope.pop("extensions", None)
            self.on_disconnect = self.close_connection = None  # the protocol's bound method: a cycle too

    def watch_disconnect(self, callback: Callable[[], None] | None) -> None:
        """`callback` is called once if the caller's connection is lost before the answer is complete (at once if
        it already is); None stops watching. Replaces a task per stream that waits on `receive` for
        http.disconnect (api/server_limits.py calls it from connection_lost)."""
        self.on_disconnect = callback
        if callback is not None and self.disconnected:
            self.on_disconnect = None
            callback()

    def write_whole(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, content_type: bytes
    ) -> None:
        """The whole answer in one write. Raises HeadRejected (nothing written) for a bad header, RuntimeError
        when a response was already started; a caller that left is ignored, as `send` ignores it."""
        if self.disconnected:
            return
        framing = b"content-type: %s\r\ncontent-length: %d\r\n" % (content_type, len(body))
        block = self._head(status, framing, 2, headers)
        self.transport.write(block if self.scope["method"] == "HEAD" else block + body)
        self.response_complete = True
        self.message_event.set()
        if not self.keep_alive:
            self._end_connection()
        self.on_response()

    def _end_connection(self) -> None:
        if self.close_connection is not None:
            self.close_connection()
        else:
            self.transport.close()

    def write_stream_start(self, status: int, headers: list[tuple[bytes, bytes]], first: bytes) -> None:
        """The head of a chunked answer and its first chunk in one write; the rest of the stream and its end go
        through `send` as usual. `headers` must not frame the body themselves (Content-Length,
        Transfer-Encoding): HeadRejected."""
        if self.disconnected:
            return
        for name, _ in headers:
            if name in (b"content-length", b"transfer-encoding"):
                raise HeadRejected(f"a streamed answer cannot carry {name.decode()}")
        block = self._head(status, b"transfer-encoding: chunked\r\n", 1, headers)
        self.chunked_encoding = True
        if first and self.scope["method"] != "HEAD":
            block += b"%x\r\n%b\r\n" % (len(first), first)
        # Corked until the loop's current iteration ends: when the rest of the stream is already here (a short
        # answer that arrived whole), its chunks and the end of the body leave in this same write.
        self._corked = [block]
        asyncio.get_running_loop().call_soon(self._uncork)

    def _uncork(self) -> None:
        corked, self._corked = self._corked, None
        if corked and not self.disconnected:
            self.transport.write(b"".join(corked))

    async def send(self, message: Any) -> None:
        corked = self._corked
        if corked is None or message["type"] != "http.response.body" or self.disconnected:
            if corked is not None:
                self._uncork()
            return await super().send(message)
        # a stream's body while its start is corked (never a HEAD's: the start wrote no chunk framing for it)
        body = message.get("body", b"")
        if body and self.scope["method"] != "HEAD":
            corked.append(b"%x\r\n%b\r\n" % (len(body), body))
        if message.get("more_body", False):
            return
        if self.scope["method"] != "HEAD":
            corked.append(b"0\r\n\r\n")
        self._uncork()  # the whole answer in one write; then what uvicorn's send does at the end of a body
        self.response_complete = True
        self.message_event.set()
        if not self.keep_alive:
            self._end_connection()
        self.on_response()

    def _head(
        self, status: int, framing: bytes, framing_lines: int, headers: list[tuple[bytes, bytes]]
    ) -> bytes:
        """Status line and headers, checked (HeadRejected: nothing is written); marks the response started."""
        if self.response_started:
            raise RuntimeError("a response was already started")
        head = [STATUS_LINE[status], framing]
        for name, value in self.default_headers:
            head += (name, b": ", value, b"\r\n")
        says_close = False
        for name, value in headers:
            if name == b"connection" and b"close" in value.lower():
                self.keep_alive, says_close = False, True
            head += (name, b": ", value, b"\r\n")
        closes = not self.keep_alive and not says_close
        if closes:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        block = b"".join(head)
        lines = 2 + framing_lines + len(self.default_headers) + len(headers) + closes  # status ... blank line
        if block.count(b"\n") != lines or block.count(b"\r") != lines or _CONTROL.search(block):
            raise HeadRejected("invalid HTTP header name or value")
        self.response_started = True
        self.waiting_for_100_continue = False
        if self.access_log:
            self.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(self.scope),
                self.scope["method"],
                get_path_with_query_string(self.scope),
                self.scope["http_version"],
                status,
            )
        return block


def start_cycle(protocol: Any) -> None:
    """What uvicorn's `HttpToolsProtocol.on_headers_complete` does for this server: the scope completed, the
    cycle made and its task started (or queued behind the answer to a pipelined request)."""
    parser = protocol.parser
    scope = protocol.scope
    http_version = parser.get_http_version()
    scope["method"] = parser.get_method().decode("ascii")
    if http_version != "1.1":
        scope["http_version"] = http_version
    url = httptools.parse_url(protocol.url)
    raw_path = url.path
    path = raw_path.decode("ascii")
    if "%" in path:
        path = urllib.parse.unquote(path)
    root = protocol.root_path
    scope["path"] = root + path if root else path
    scope["raw_path"] = root.encode("ascii") + raw_path if root else raw_path
    scope["query_string"] = url.query or b""
    cycle = WholeResponseCycle(
        scope=scope,
        transport=protocol.transport,
        flow=protocol.flow,
        logger=protocol.logger,
        access_logger=protocol.access_logger,
        access_log=protocol.access_log,
        default_headers=protocol.server_state.default_headers,
        message_event=asyncio.Event(),
        expect_100_continue=protocol.expect_100_continue,
        keep_alive=http_version != "1.0" and parser.should_keep_alive(),
        on_response=protocol.on_response_complete,
    )
    cycle.close_connection = getattr(protocol, "close_after_answer", None)
    scope["extensions"] = {
        WHOLE_RESPONSE: cycle.write_whole,
        STREAM_START: cycle.write_stream_start,
        ON_DISCONNECT: cycle.watch_disconnect,
    }
    existing = protocol.cycle
    protocol.cycle = cycle
    if existing is None or existing.response_complete:
        protocol._start_asgi_task(cycle, protocol.app)
    else:  # a pipelined request waits for the answer before it
        protocol.flow.pause_reading()
        protocol.pipeline.appendleft((cycle, protocol.app))
