"""A lean HTTP/1.1 client for the upstream hot path: asyncio protocol + httptools parser + keep-alive pool.

Why not aiohttp: on this workload the client was a third of the gateway's CPU (aiohttp's per-request machinery:
URL objects, timeouts, tracing, cookie and redirect handling). This client does only what a gateway needs:
one request per connection at a time, Content-Length request bodies, Content-Length / chunked / read-to-close
responses, TLS through the standard library, connect / first-byte / between-reads / total timeouts,
back-pressure on slow consumers, and one transparent retry when a reused keep-alive connection turns out to be
closed before any response byte arrived.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
import zlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools

_HIGH_WATER = 1 << 20  # pause reading from the upstream when this much is buffered for a slow consumer
_LOW_WATER = 1 << 18


class HTTPError(Exception):
    """Transport-level failure. `timeout` tells a timeout apart from a broken or refused connection."""

    def __init__(self, message: str, *, timeout: bool = False, before_response: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.before_response = before_response  # nothing of the response was received: safe to retry on reuse


class _Exchange:
    __slots__ = ("body_len", "chunks", "done", "error", "headers", "headers_ready", "status", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.headers_ready: asyncio.Future[None] = loop.create_future()
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: collections.deque[bytes] = collections.deque()
        self.body_len = 0
        self.done = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if self.done:
            return
        self.error = exc
        if not self.headers_ready.done():
            self.headers_ready.set_exception(exc)
            self.headers_ready.exception()  # mark retrieved: the caller may already have given up
        self.wake()


class _Connection(asyncio.Protocol):
    __slots__ = ("_header_name", "_headers", "_paused", "_pool", "closed", "exchange", "key", "parser", "reused", "transport")

    def __init__(self, pool: Pool, key: tuple[str, str, int]) -> None:
        self._pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: _Exchange | None = None
        self.closed = False
        self.reused = False
        self._paused = False
        self._headers: dict[str, str] = {}
        self._header_name = b""

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._abort(HTTPError(f"invalid HTTP response from upstream: {e}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ex = self.exchange
        if ex is not None and not ex.done:
            if ex.headers_ready.done() and not ex.headers_ready.exception() and self._reads_to_close(ex):
                ex.done = True  # a response delimited by closing the connection is complete now
                ex.wake()
            else:
                started = ex.headers_ready.done()
                ex.fail(HTTPError("upstream closed the connection" + (" mid-response" if started else ""),
                                  before_response=not started))
        self.exchange = None

    @staticmethod
    def _reads_to_close(ex: _Exchange) -> bool:
        h = ex.headers
        return "content-length" not in h and "chunked" not in h.get("transfer-encoding", "").lower()

    # -- httptools callbacks -----------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        val = value.decode("latin-1")
        prev = self._headers.get(key)
        self._headers[key] = f"{prev}, {val}" if prev is not None else val

    def on_headers_complete(self) -> None:
        ex = self.exchange
        if ex is None:
            return
        ex.status = self.parser.get_status_code()
        ex.headers, self._headers = self._headers, {}
        if not ex.headers_ready.done():
            ex.headers_ready.set_result(None)

    def on_body(self, body: bytes) -> None:
        ex = self.exchange
        if ex is None:
            return
        ex.chunks.append(body)
        ex.body_len += len(body)
        if ex.body_len > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        ex.wake()

    def on_message_complete(self) -> None:
        ex = self.exchange
        if ex is None:
            return
        ex.done = True
        ex.wake()
        keep = self.parser.should_keep_alive()
        self.exchange = None
        self.parser = httptools.HttpResponseParser(self)
        if keep and not self.closed:
            self._pool.release(self)
        else:
            self.close()

    # -- used by the pool and responses ------------------------------------------------------------
    def consumed(self, n: int) -> None:
        ex = self.exchange
        if ex is not None:
            ex.body_len -= n
            if self._paused and ex.body_len < _LOW_WATER and self.transport is not None:
                self._paused = False
                self.transport.resume_reading()

    def _abort(self, exc: BaseException) -> None:
        ex = self.exchange
        if ex is not None:
            ex.fail(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Response:
    """Status and headers have arrived; the body is read whole (`read`) or as it comes (`iter_chunks`)."""

    __slots__ = ("_conn", "_deadline", "_ex", "_read_timeout", "headers", "status")

    def __init__(self, conn: _Connection, ex: _Exchange, read_timeout: float, deadline: float) -> None:
        self._conn = conn
        self._ex = ex
        self._read_timeout = read_timeout
        self._deadline = deadline
        self.status = ex.status
        self.headers = ex.headers

    async def _next(self) -> bytes | None:
        ex = self._ex
        while True:
            if ex.chunks:
                chunk = ex.chunks.popleft()
                self._conn.consumed(len(chunk))
                return chunk
            if ex.error is not None:
                raise ex.error
            if ex.done:
                return None
            loop = asyncio.get_running_loop()
            ex.waiter = loop.create_future()
            timeout = min(self._read_timeout, self._deadline - time.monotonic())
            try:
                await asyncio.wait_for(ex.waiter, max(timeout, 0.0))
            except TimeoutError:
                self.close()
                raise HTTPError("upstream response stalled past the timeout", timeout=True) from None
            finally:
                ex.waiter = None

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            while (chunk := await self._next()) is not None:
                yield chunk
        finally:
            if not self._ex.done:
                self.close()

    async def read(self) -> bytes:
        parts = [c async for c in self.iter_chunks()]
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        encoding = self.headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "deflate"):
            try:
                body = zlib.decompress(body, 47 if encoding == "gzip" else 15)
            except zlib.error as e:
                raise HTTPError(f"upstream sent a corrupt {encoding} body: {e}") from None
        return body

    def close(self) -> None:
        """Abandon the response: the connection is closed (never reused mid-body), the upstream stops."""
        if not self._ex.done:
            self._ex.fail(HTTPError("response abandoned"))
            self._conn.close()


class Pool:
    """Keep-alive connections per (scheme, host, port)."""

    def __init__(self, *, max_idle_per_host: int = 256) -> None:
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._max_idle = max_idle_per_host
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    def release(self, conn: _Connection) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if self._closed or len(idle) >= self._max_idle:
            conn.close()
            return
        idle.append(conn)

    async def _connect(self, key: tuple[str, str, int], timeout: float) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        ctx = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            ctx = self._ssl
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self, key), host, port, ssl=ctx,
                                       server_hostname=host if ctx else None),
                timeout,
            )
        except TimeoutError:
            raise HTTPError(f"connecting to {host}:{port} timed out", timeout=True, before_response=True) from None
        except OSError as e:
            raise HTTPError(f"cannot connect to {host}:{port}: {e.strerror or e}", before_response=True) from None
        return conn

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        return None

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes, *,
                      connect_timeout: float, read_timeout: float, total_timeout: float) -> Response:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if parts.port is None else f"{host}:{port}"
        head = [f"{method} {target} HTTP/1.1\r\nhost: {host_header}\r\ncontent-length: {len(body)}\r\n"]
        for k, v in headers.items():
            if "\r" in v or "\n" in v or "\r" in k or "\n" in k:
                raise HTTPError(f"header {k!r} contains a line break")
            head.append(f"{k}: {v}\r\n")
        head.append("\r\n")
        payload = "".join(head).encode("latin-1") + body
        deadline = time.monotonic() + total_timeout
        for attempt in range(2):
            conn = (self._take_idle(key) if attempt == 0 else None) or await self._connect(key, connect_timeout)
            loop = asyncio.get_running_loop()
            ex = _Exchange(loop)
            conn.exchange = ex
            assert conn.transport is not None
            conn.transport.write(payload)
            try:
                await asyncio.wait_for(asyncio.shield(ex.headers_ready), min(read_timeout, deadline - time.monotonic()))
            except TimeoutError:
                conn.close()
                raise HTTPError("upstream did not answer in time", timeout=True) from None
            except HTTPError as e:
                if conn.reused and e.before_response:
                    continue  # a stale keep-alive connection: try once more on a fresh one
                raise
            except asyncio.CancelledError:
                conn.close()
                raise
            return Response(conn, ex, read_timeout, deadline)
        raise HTTPError("upstream closed the connection before answering", before_response=True)

    async def close(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for c in conns:
                c.close()
        self._idle.clear()
