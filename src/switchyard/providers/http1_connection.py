"""One upstream connection of the client (`http1.py`): an asyncio protocol feeding httptools, which fills the
current exchange (`http1_response.py`), pauses reading above the high-water mark, enforces the response size
and header caps, skips interim (1xx) answers, sets up CONNECT tunnels, and goes back to the pool when a
response ends with keep-alive (never with reading paused).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import httptools

from .http1_response import HIGH_WATER, LOW_WATER, Exchange, HTTPError
from .readable import pollfd_for, readable

if TYPE_CHECKING:
    from .http1 import Pool

MAX_HEAD_BYTES = 256 * 1024  # status line and headers of one response

Key = tuple[str, str, int]

# Response header names as received -> lower-case str: a few dozen in practice; bounded in number and length (an
# upstream's made-up names cannot grow it past 512 x 64 bytes).
_NAMES: dict[bytes, str] = {}
_MAX_NAMES = 512


class Connection(asyncio.Protocol):
    __slots__ = (
        "_counted",
        "_fd",
        "_head_bytes",
        "_headers",
        "_interim",
        "_paused",
        "_pollfd",
        "_pool",
        "_tunnel",
        "_tunnel_buf",
        "closed",
        "exchange",
        "idle_until",
        "key",
        "parser",
        "reused",
        "transport",
    )

    def __init__(self, pool: Pool, key: Key) -> None:
        self._pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: Exchange | None = None
        self.closed = False
        self.reused = False
        self.idle_until = 0.0
        self._counted = True  # holds one of the pool's connection slots for its key until it is gone
        self._paused = False
        self._interim = False
        self._headers: dict[str, str] = {}
        self._head_bytes = 0
        self._fd = -1
        self._pollfd: object = None
        self._tunnel: asyncio.Future[bytes] | None = None
        self._tunnel_buf = b""

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        self._fd = sock.fileno() if sock is not None else -1
        if self._fd >= 0:
            self._pollfd = pollfd_for(self._fd)

    def data_received(self, data: bytes) -> None:
        if self._tunnel is not None:
            self._tunnel_reply(data)
            return
        if self.exchange is None:
            self.close()  # bytes on an idle connection: it is out of step, never reuse it
            return
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as e:
            self._abort(HTTPError(f"invalid HTTP response from upstream: {e}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._release_slot()
        if self._tunnel is not None and not self._tunnel.done():
            self._tunnel.set_exception(
                HTTPError("the proxy closed the connection during CONNECT", before_response=True)
            )
        ex = self.exchange
        if ex is not None and not ex.done:
            if ex.head and ex.error is None and _reads_to_close(ex):
                ex.done = True  # a response delimited by closing the connection is complete now
                ex.wake()
            else:
                started = ex.head
                ex.fail(
                    HTTPError(
                        "upstream closed the connection" + (" mid-response" if started else ""),
                        before_response=not started,
                    )
                )
        self.exchange = None

    # -- httptools callbacks -----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.exchange is None:
            self.close()  # a second response after the one we asked for

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._abort(
                HTTPError(f"upstream response headers exceed {MAX_HEAD_BYTES // 1024} KiB", too_large=True)
            )
            return
        key = _NAMES.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
            if len(_NAMES) < _MAX_NAMES and len(name) <= 64:
                _NAMES[name] = key
        val = value.decode("latin-1")
        prev = self._headers.get(key)
        self._headers[key] = f"{prev}, {val}" if prev is not None else val

    def on_headers_complete(self) -> None:
        ex = self.exchange
        if ex is None:
            return
        status = self.parser.get_status_code()
        self._head_bytes = 0
        if status < 200:  # 100 Continue, 103 Early Hints: the real answer follows
            self._interim = True
            self._headers = {}
            return
        ex.status = status
        ex.headers, self._headers = self._headers, {}
        length = ex.headers.get("content-length", "")
        if length.isdigit() and int(length) > self._pool.max_response_bytes:
            self._abort(
                HTTPError(
                    f"upstream announced a {int(length)}-byte response, more than "
                    f"upstream.max_response_bytes ({self._pool.max_response_bytes})",
                    too_large=True,
                )
            )
            return
        ex.head = True
        ex.wake()

    def on_body(self, body: bytes) -> None:
        ex = self.exchange
        if ex is None:
            return
        n = len(body)
        ex.received += n
        if ex.received > self._pool.max_response_bytes:
            self._abort(
                HTTPError(
                    f"upstream response exceeds upstream.max_response_bytes "
                    f"({self._pool.max_response_bytes} bytes)",
                    too_large=True,
                )
            )
            return
        ex.chunks.append(body)
        ex.buffered += n
        if ex.buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        ex.wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        ex = self.exchange
        if ex is None:
            return
        ex.done = True
        ex.wake()
        self.exchange = None
        if self._paused and self.transport is not None:
            # The last bytes came in the read that crossed the high-water mark: the consumer holds what is
            # buffered, so the connection must not go back to the pool with reading paused.
            self._paused = False
            self.transport.resume_reading()
        idle_for = _keep_alive_seconds(ex.headers, self._pool.idle_timeout)
        if idle_for > 0 and self.parser.should_keep_alive() and not self.closed:
            self.idle_until = time.monotonic() + idle_for
            self._pool.release(self)
        else:
            self.close()

    # -- used by the pool and responses ------------------------------------------------------------
    def consumed(self, ex: Exchange, n: int) -> None:
        ex.buffered -= n
        if self._paused and ex is self.exchange and ex.buffered < LOW_WATER and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def stale(self, now: float) -> bool:
        """Closed, past its idle time, or readable while idle (a FIN, a reset, or stray bytes not yet handled)."""
        if self.closed or now >= self.idle_until:
            return True
        if self._fd < 0:
            return False
        return readable(self._fd, self._pollfd)

    async def open_tunnel(self, authority: str, authorization: str | None) -> None:
        """CONNECT through the proxy this connection is open to; returns once the tunnel is up."""
        assert self.transport is not None
        self._tunnel = asyncio.get_running_loop().create_future()
        auth = f"proxy-authorization: {authorization}\r\n" if authorization else ""
        self.transport.write(
            f"CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n{auth}\r\n".encode("ascii")
        )
        head = await self._tunnel
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HTTPError(
                f"the proxy sent an invalid reply to CONNECT: {line[:100]!r}", before_response=True
            )
        if not 200 <= int(parts[1]) < 300:
            raise HTTPError(
                f"the proxy refused the tunnel to {authority}: {line[:200]}", before_response=True
            )

    def _tunnel_reply(self, data: bytes) -> None:
        self._tunnel_buf += data
        end = self._tunnel_buf.find(b"\r\n\r\n")
        fut = self._tunnel
        assert fut is not None
        if end < 0:
            if len(self._tunnel_buf) > MAX_HEAD_BYTES:
                self._tunnel = None
                fut.set_exception(HTTPError("the proxy's reply to CONNECT is too long", before_response=True))
            return
        self._tunnel = None
        if end + 4 != len(self._tunnel_buf):
            fut.set_exception(
                HTTPError("the proxy sent bytes after its reply to CONNECT", before_response=True)
            )
        else:
            fut.set_result(self._tunnel_buf[:end])
        self._tunnel_buf = b""

    def _abort(self, exc: BaseException) -> None:
        ex = self.exchange
        self.exchange = None  # the rest of this read is ignored
        if ex is not None:
            ex.fail(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        self._release_slot()
        if self.transport is not None:
            self.transport.abort()

    def _release_slot(self) -> None:
        if self._counted:
            self._counted = False
            self._pool.slot_freed(self.key)


def _reads_to_close(ex: Exchange) -> bool:
    h = ex.headers
    return "content-length" not in h and "chunked" not in h.get("transfer-encoding", "").lower()


def _keep_alive_seconds(headers: dict[str, str], default: float) -> float:
    """How long an idle connection may be reused: the upstream's `Keep-Alive: timeout=N` less a second."""
    value = headers.get("keep-alive")
    if value:
        for param in value.split(","):
            name, _, n = param.strip().partition("=")
            if name.strip().lower() == "timeout" and n.strip().isdigit():
                return min(default, int(n) - 1.0)
    return default
