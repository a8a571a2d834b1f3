"""A lean HTTP/1.1 client for the upstream hot path: asyncio protocol + httptools parser + keep-alive pool.

Why not aiohttp: on this workload the client was a third of the gateway's CPU (aiohttp's per-request machinery:
URL objects, timeouts, tracing, cookie and redirect handling). This client does only what a gateway needs:
one request per connection at a time, Content-Length request bodies, Content-Length / chunked / read-to-close
responses, TLS through the standard library, HTTP proxies from the environment (`egress_proxy.py`: CONNECT for
https, absolute form for http), connect / first-byte / between-reads / total timeouts, back-pressure on slow
consumers, a cap on the response size (and on gzip/deflate expansion, `http1_response.py`) and on the connections
per host. Nothing invalid is sent (`request_head.py`).

Replay (as Go's net/http): a request whose bytes were written is never sent again, unless its method is
idempotent; the failure of a POST after the write may mean the upstream received it. A keep-alive
connection is checked before it is reused (closed by the peer, readable while idle, or past its idle time:
the upstream's `Keep-Alive: timeout` less one second, at most `idle_timeout`), so a stale one is dropped before
anything is written on it.
"""

from __future__ import annotations

import asyncio
import collections
import select
import ssl
import time

import httptools

from .egress_proxy import ProxySettings
from .http1_response import _HIGH_WATER, _LOW_WATER, HTTPError, Response, _Exchange
from .request_head import Route, encode_head, route_for

__all__ = ["HTTPError", "Pool", "Response"]

_MAX_HEAD_BYTES = 256 * 1024  # status line and headers of one response
_MAX_ROUTES = 1024  # parsed URLs kept per pool
_REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

Key = tuple[str, str, int]


class _Connection(asyncio.Protocol):
    __slots__ = ("_counted", "_fd", "_head_bytes", "_headers", "_interim", "_paused", "_pool", "_tunnel",
                 "_tunnel_buf", "closed", "exchange", "idle_until", "key", "parser", "reused", "transport")

    def __init__(self, pool: Pool, key: Key) -> None:
        self._pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: _Exchange | None = None
        self.closed = False
        self.reused = False
        self.idle_until = 0.0
        self._counted = True  # holds one of the pool's connection slots for its key until it is gone
        self._paused = False
        self._interim = False
        self._headers: dict[str, str] = {}
        self._head_bytes = 0
        self._fd = -1
        self._tunnel: asyncio.Future[bytes] | None = None
        self._tunnel_buf = b""

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        self._fd = sock.fileno() if sock is not None else -1

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
            self._tunnel.set_exception(HTTPError("the proxy closed the connection during CONNECT", before_response=True))
        ex = self.exchange
        if ex is not None and not ex.done:
            if ex.headers_ready.done() and not ex.headers_ready.exception() and _reads_to_close(ex):
                ex.done = True  # a response delimited by closing the connection is complete now
                ex.wake()
            else:
                started = ex.headers_ready.done()
                ex.fail(HTTPError("upstream closed the connection" + (" mid-response" if started else ""),
                                  before_response=not started))
        self.exchange = None

    # -- httptools callbacks -----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.exchange is None:
            self.close()  # a second response after the one we asked for

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > _MAX_HEAD_BYTES:
            self._abort(HTTPError(f"upstream response headers exceed {_MAX_HEAD_BYTES // 1024} KiB", too_large=True))
            return
        key = name.decode("latin-1").lower()
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
            self._abort(HTTPError(f"upstream announced a {int(length)}-byte response, more than "
                                  f"upstream.max_response_bytes ({self._pool.max_response_bytes})", too_large=True))
            return
        ex.headers_ready.set_result(None)

    def on_body(self, body: bytes) -> None:
        ex = self.exchange
        if ex is None:
            return
        n = len(body)
        ex.received += n
        if ex.received > self._pool.max_response_bytes:
            self._abort(HTTPError(f"upstream response exceeds upstream.max_response_bytes "
                                  f"({self._pool.max_response_bytes} bytes)", too_large=True))
            return
        ex.chunks.append(body)
        ex.buffered += n
        if ex.buffered > _HIGH_WATER and not self._paused and self.transport is not None:
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
    def consumed(self, ex: _Exchange, n: int) -> None:
        ex.buffered -= n
        if self._paused and ex is self.exchange and ex.buffered < _LOW_WATER and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def stale(self, now: float) -> bool:
        """Closed, past its idle time, or readable while idle (a FIN, a reset, or stray bytes not yet handled)."""
        if self.closed or now >= self.idle_until:
            return True
        if self._fd < 0:
            return False
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))

    async def open_tunnel(self, authority: str, authorization: str | None) -> None:
        """CONNECT through the proxy this connection is open to; returns once the tunnel is up."""
        assert self.transport is not None
        self._tunnel = asyncio.get_running_loop().create_future()
        auth = f"proxy-authorization: {authorization}\r\n" if authorization else ""
        self.transport.write(f"CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n{auth}\r\n".encode("ascii"))
        head = await self._tunnel
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HTTPError(f"the proxy sent an invalid reply to CONNECT: {line[:100]!r}", before_response=True)
        if not 200 <= int(parts[1]) < 300:
            raise HTTPError(f"the proxy refused the tunnel to {authority}: {line[:200]}", before_response=True)

    def _tunnel_reply(self, data: bytes) -> None:
        self._tunnel_buf += data
        end = self._tunnel_buf.find(b"\r\n\r\n")
        fut = self._tunnel
        assert fut is not None
        if end < 0:
            if len(self._tunnel_buf) > _MAX_HEAD_BYTES:
                self._tunnel = None
                fut.set_exception(HTTPError("the proxy's reply to CONNECT is too long", before_response=True))
            return
        self._tunnel = None
        if end + 4 != len(self._tunnel_buf):
            fut.set_exception(HTTPError("the proxy sent bytes after its reply to CONNECT", before_response=True))
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


def _reads_to_close(ex: _Exchange) -> bool:
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


class Pool:
    """Keep-alive connections per (scheme, host, port), at most `max_connections_per_host` open per key."""

    def __init__(self, *, max_idle_per_host: int = 256, max_connections_per_host: int = 1024,
                 max_response_bytes: int = 256 << 20, idle_timeout: float = 50.0,
                 proxies: ProxySettings | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.max_response_bytes = max_response_bytes
        self.idle_timeout = idle_timeout
        self._max_idle = max_idle_per_host
        self._max_open = max_connections_per_host
        self._proxies = proxies or ProxySettings()
        self._ssl = ssl_context
        self._idle: dict[Key, list[_Connection]] = {}
        self._open: dict[Key, int] = {}
        self._waiters: dict[Key, collections.deque[asyncio.Future[None]]] = {}
        self._routes: dict[str, Route] = {}
        self._closed = False

    def release(self, conn: _Connection) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if self._closed or len(idle) >= self._max_idle:
            conn.close()
            return
        idle.append(conn)
        self._wake(conn.key)

    def slot_freed(self, key: Key) -> None:
        self._open[key] -= 1
        self._wake(key)

    def open_connections(self, key: Key) -> int:
        return self._open.get(key, 0)

    def _wake(self, key: Key) -> None:
        waiters = self._waiters.get(key)
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _route(self, url: str) -> Route:
        route = self._routes.get(url)
        if route is None:
            try:
                route = route_for(url, self._proxies)
            except ValueError as e:
                raise HTTPError(str(e), invalid=True, before_response=True) from None
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            self._routes[url] = route
        return route

    async def _acquire(self, route: Route, connect_timeout: float, wait: float, reuse: bool) -> _Connection:
        """An idle connection that is still good, a new one, or (at the cap) the next one to come free."""
        key = route.key
        give_up = time.monotonic() + wait
        while True:
            if reuse:
                idle = self._idle.get(key)
                now = time.monotonic()
                while idle:
                    conn = idle.pop()
                    if not conn.stale(now):
                        conn.reused = True
                        return conn
                    conn.close()
            if self._open.get(key, 0) < self._max_open:
                self._open[key] = self._open.get(key, 0) + 1
                return await self._connect(route, connect_timeout)
            fut = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(key, collections.deque()).append(fut)
            try:
                await asyncio.wait_for(fut, max(give_up - time.monotonic(), 0.0))
            except TimeoutError:
                raise HTTPError(f"no connection to {key[1]}:{key[2]} came free in time "
                                f"(upstream.max_connections_per_host = {self._max_open})",
                                timeout=True, before_response=True) from None
            finally:
                if not fut.done():
                    fut.cancel()

    async def _connect(self, route: Route, timeout: float) -> _Connection:
        """A new connection (its slot is already counted; a failure gives it back)."""
        scheme, host, port = route.key
        loop = asyncio.get_running_loop()
        ctx = self._ssl_context() if scheme == "https" else None
        made: list[_Connection] = []

        def protocol() -> _Connection:
            made.append(_Connection(self, route.key))
            return made[-1]

        async def open_() -> _Connection:
            chost, cport = route.connect_to
            if not route.tunnel:
                _, conn = await loop.create_connection(protocol, chost, cport, ssl=ctx,
                                                       server_hostname=host if ctx else None)
                return conn
            _, conn = await loop.create_connection(protocol, chost, cport)
            assert route.proxy is not None and ctx is not None
            await conn.open_tunnel(f"[{host}]:{port}" if ":" in host else f"{host}:{port}", route.proxy.authorization)
            conn.transport = await loop.start_tls(conn.transport, conn, ctx, server_hostname=host)  # type: ignore[arg-type,assignment]
            return conn

        where = f"{host}:{port}" + (f" through the proxy {route.proxy.host}:{route.proxy.port}" if route.proxy else "")
        try:
            return await asyncio.wait_for(open_(), timeout)
        except BaseException as e:
            for conn in made:
                conn.close()  # gives its slot back
            if not made:
                self.slot_freed(route.key)
            if isinstance(e, TimeoutError):
                raise HTTPError(f"connecting to {where} timed out", timeout=True, before_response=True) from None
            if isinstance(e, OSError):
                raise HTTPError(f"cannot connect to {where}: {e.strerror or e}", before_response=True) from None
            raise

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()  # honours SSL_CERT_FILE / SSL_CERT_DIR
        return self._ssl

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes, *,
                      connect_timeout: float, read_timeout: float, total_timeout: float) -> Response:
        route = self._route(url)
        try:
            payload = encode_head(method, route, headers, len(body)) + body
        except ValueError as e:
            raise HTTPError(str(e), invalid=True, before_response=True) from None
        deadline = time.monotonic() + total_timeout
        replayable = method in _REPLAYABLE or "idempotency-key" in headers
        reuse = True
        while True:
            wait = min(read_timeout, deadline - time.monotonic())
            conn = await self._acquire(route, connect_timeout, wait, reuse)
            ex = _Exchange(asyncio.get_running_loop())
            conn.exchange = ex
            assert conn.transport is not None
            conn.transport.write(payload)
            try:
                await asyncio.wait_for(asyncio.shield(ex.headers_ready), min(read_timeout, deadline - time.monotonic()))
            except TimeoutError:
                conn.close()
                raise HTTPError("upstream did not answer in time", timeout=True) from None
            except HTTPError as e:
                if not (conn.reused and e.before_response):
                    raise
                if replayable and reuse:
                    reuse = False  # an idempotent request on a stale connection: once more on a new one
                    continue
                raise HTTPError("upstream closed a reused keep-alive connection after the request was sent; not "
                                "replayed, since the upstream may have received it", before_response=True) from None
            except asyncio.CancelledError:
                conn.close()
                raise
            return Response(conn, ex, read_timeout, deadline, self.max_response_bytes)

    async def close(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for c in conns:
                c.close()
        self._idle.clear()
