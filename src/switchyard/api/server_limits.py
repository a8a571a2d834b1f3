"""Limits enforced below the application, in the HTTP protocol: uvicorn's httptools protocol, subclassed.

- The header section (request line and headers) of a request over `max_header_bytes`: 431, connection closed.
  httptools has no limit of its own and buffers a header's value until the value ends, so the bytes are counted
  as they are fed to the parser, not in its callbacks.
- Headers not complete within `header_timeout` of their first byte (or of the connection, for one that sends
  nothing): 408 (a silent connection is just closed).
- More than `max_connections` connections open in this process: 503 with Retry-After at once.
- A response complete while its request body is still arriving (the application refused the request without
  reading the body: 401, 413, 503): uvicorn discards the rest; if it has not all arrived `body_timeout` later,
  the connection is closed.
- A request offering an upgrade (`Upgrade: h2c`, `websocket`, a CONNECT) is served as plain HTTP/1.1: its body
  read by a fresh parser, `connection: close`, nothing after it parsed (api/server_upgrade.py). The limits above
  apply to it as to any request.

A refusal is written, the write side is shut (FIN after the answer) and whatever the client still sends is
discarded for a moment before the socket is closed: closing a socket with unread data sends a reset, which can
destroy the answer before the client reads it. The application's answers that end the connection (HTTP/1.0,
`connection: close`) get the same ending when the request's body is still arriving (`close_after_answer`).

The in-flight cap and the body deadline are the application's (`app.Gateway`, `api/asgi.py`): their answers
come in the caller's error shape. The protocol finds its limits on the loaded application (`Gateway.limits`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..config import ServerSettings
from ..errors import GatewayError
from .server_cycle import WholeResponseCycle, start_cycle
from .server_upgrade import DeclinedUpgradeBody, replayed_head

LINGER_SECONDS = 2.0  # how long a refused connection's incoming bytes are discarded before it is closed
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_header_bytes: int = 64 * 1024
    header_timeout: float = 30.0
    body_timeout: float = 30.0
    max_connections: int = 2048
    max_in_flight: int = 1024

    @classmethod
    def from_settings(cls, s: ServerSettings) -> ServerLimits:
        return cls(
            max_header_bytes=s.max_header_bytes,
            header_timeout=s.header_timeout_seconds,
            body_timeout=s.body_timeout_seconds,
            max_connections=s.max_connections,
            max_in_flight=s.max_in_flight,
        )


def limits_of(app: Any) -> ServerLimits:
    """The limits the loaded application carries, looking through uvicorn's middleware wrappers."""
    for _ in range(8):
        limits = getattr(app, "limits", None)
        if isinstance(limits, ServerLimits):
            return limits
        app = getattr(app, "app", None)
        if app is None:
            break
    return ServerLimits()


def refusal(status: int, message: str, code: str, *, retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 answer in the gateway's (OpenAI) error shape that closes the connection."""
    body = GatewayError(status, message, code=code).openai_body()
    head = [
        STATUS_LINE[status],
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n",
    ]
    if retry_after is not None:
        head.append(b"retry-after: %d\r\n" % retry_after)
    return b"".join([*head, b"\r\n", body])


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header-size cap, a header deadline, a connection cap and a deadline
    for the unread rest of a refused body. Pass the class as `uvicorn.run(http=...)`."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits_of(self.app)
        self._in_head = True  # the bytes being fed belong to a request line and headers
        self._head_bytes = 0
        self._body_open = False  # headers complete, body not yet
        self._refused = False  # what arrives is discarded (a refusal lingering, or past a declined upgrade)
        self._head_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            message = (
                f"The gateway is at its limit of {self.limits.max_connections} connections; "
                f"retry in {RETRY_AFTER_SECONDS} s."
            )
            self._refuse(503, message, "too_many_connections", retry_after=RETRY_AFTER_SECONDS)
            return
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._drain_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._drain_timer = self._linger_timer = None
        super().connection_lost(exc)
        cycle = self.cycle
        if (
            isinstance(cycle, WholeResponseCycle) and cycle.disconnected
        ):  # left before the answer was complete
            notify = cycle.on_disconnect
            if notify is not None:
                cycle.on_disconnect = None
                notify()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: discard
        self._feed(data)
        # Headers left incomplete by this chunk get a deadline (connection_made set one for the first request);
        # the usual request, whose headers arrive in one chunk, costs no timer.
        if self._in_head and self._head_bytes and self._head_timer is None and not self._refused:
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _feed(self, data: bytes) -> None:
        cap = self.limits.max_header_bytes
        while self._in_head:
            room = cap - self._head_bytes
            if len(data) <= room:
                self._head_bytes += len(data)
                self._parse(data)
                return
            if room <= 0:
                self._refuse(
                    431,
                    f"The request's headers are larger than the gateway's limit of {cap} bytes.",
                    "headers_too_large",
                )
                return
            # Feed only what fits; the headers may end within it, and the rest is body (or the next request).
            self._head_bytes = cap
            self._parse(data[:room])
            data = data[room:]
            if self._refused or self.transport.is_closing():
                return
        self._parse(data)

    def _parse(self, data: bytes) -> None:
        """uvicorn's `data_received`, keeping the offset httptools gives with an upgrade."""
        if self.timeout_keep_alive_task is not None:
            self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._decline_upgrade(data[upgrade.args[0] :])
        except httptools.HttpParserError:
            if self._refused:  # after a declined upgrade's request: discarded, whatever it is
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)

    def _decline_upgrade(self, rest: bytes) -> None:
        """The upgrade request whose head the parser just ended (its cycle is started) is served as plain HTTP:
        its body is read by a fresh parser, its answer closes the connection (api/server_upgrade.py)."""
        if self._refused:
            return
        self.cycle.keep_alive = False
        parser = self.parser
        body = DeclinedUpgradeBody(self.on_body, self._declined_request_complete)
        self.parser = body.parser
        method = parser.get_method()
        if method == b"CONNECT":  # no content; what follows is the tunnel the client asked for
            body.on_message_complete()
            return
        self._parse(replayed_head(method, parser.get_http_version(), self.headers) + rest)

    def _declined_request_complete(self) -> None:
        self.on_message_complete()
        self._refused = True  # nothing after it is a request: the connection closes after the answer

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._body_open = True
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        start_cycle(
            self
        )  # uvicorn's on_headers_complete, leaner, with the whole-answer write (server_cycle.py)

    def on_message_complete(self) -> None:
        # uvicorn's, without its WebSocket check (ws="none").
        if self.parser.should_upgrade():
            return  # httptools ends an upgrade request at its head, bodiless: its body follows (_decline_upgrade)
        cycle = self.cycle
        if not cycle.response_complete:
            cycle.more_body = False
            cycle.message_event.set()
        self._body_open = False
        self._in_head = True
        self._head_bytes = 0
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    def on_response_complete(self) -> None:
        if self._linger_timer is not None:  # the answer ended the connection (close_after_answer)
            self.server_state.total_requests += 1
            self.pipeline.clear()
            return
        super().on_response_complete()
        if self._body_open and self._drain_timer is None and not self.transport.is_closing():
            self._drain_timer = self.loop.call_later(self.limits.body_timeout, self._drain_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self._refused or self.transport.is_closing():
            return
        if self._answering():  # a pipelined request's headers: wait until the answer before it is out
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)
        elif self._head_bytes == 0:
            self.transport.close()  # connected and said nothing
        else:
            message = (
                f"The request's headers were not received within {self.limits.header_timeout:g} seconds."
            )
            self._refuse(408, message, "request_timeout")

    def _drain_timed_out(self) -> None:
        self._drain_timer = None
        if self._body_open and not self._answering() and not self.transport.is_closing():
            self.transport.close()  # the rest of a refused body did not arrive in time

    def _answering(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _refuse(self, status: int, message: str, code: str, *, retry_after: int | None = None) -> None:
        self._refused = True
        for timer in (self._head_timer, self._drain_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._drain_timer = None
        if self._answering():  # nothing can be written in the middle of another answer
            self.transport.close()
            return
        self.transport.write(refusal(status, message, code, retry_after=retry_after))
        self._linger()

    def close_after_answer(self) -> None:
        """An answer that ends the connection (HTTP/1.0, `connection: close`, a declined upgrade) is written. If the
        request's body is still arriving (the application answered without reading it: 401, 413, ...), the
        connection lingers as after a refusal; else it is closed at once."""
        if self._body_open and not self.transport.is_closing():
            self._refused = True
            for timer in (self._head_timer, self._drain_timer):
                if timer is not None:
                    timer.cancel()
            self._head_timer = self._drain_timer = None
            self._linger()
        else:
            self.transport.close()

    def _linger(self) -> None:
        """FIN after the answer, then whatever the client still sends is discarded for a moment before the socket
        is closed: closing a socket with unread data sends a reset, which can destroy the answer before the
        client has read it."""
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
