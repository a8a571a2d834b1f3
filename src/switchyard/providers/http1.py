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
import ssl
import time

from .egress_proxy import ProxySettings
from .http1_connection import Connection, Key
from .http1_deadlines import Deadlines
from .http1_response import Exchange, HTTPError, Response
from .request_head import Route, encode_head, route_for

__all__ = ["HTTPError", "Pool", "Response"]

_MAX_ROUTES = 1024  # parsed URLs kept per pool
_REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class Pool:
    """Keep-alive connections per (scheme, host, port), at most `max_connections_per_host` open per key."""

    def __init__(
        self,
        *,
        max_idle_per_host: int = 256,
        max_connections_per_host: int = 1024,
        max_response_bytes: int = 256 << 20,
        idle_timeout: float = 50.0,
        proxies: ProxySettings | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.max_response_bytes = max_response_bytes
        self.idle_timeout = idle_timeout
        self._max_idle = max_idle_per_host
        self._max_open = max_connections_per_host
        self._proxies = proxies or ProxySettings()
        self._ssl = ssl_context
        self._idle: dict[Key, list[Connection]] = {}
        self._open: dict[Key, int] = {}
        self._waiters: dict[Key, collections.deque[asyncio.Future[None]]] = {}
        self._routes: dict[str, Route] = {}
        self._deadlines = Deadlines()
        self._closed = False

    def release(self, conn: Connection) -> None:
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

    def _idle_conn(self, key: Key) -> Connection | None:
        """The most recently released idle connection that is still good (stale ones are closed on the way)."""
        idle = self._idle.get(key)
        if idle:
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if not conn.stale(now):
                    conn.reused = True
                    return conn
                conn.close()
        return None

    async def _acquire(self, route: Route, connect_timeout: float, wait: float, reuse: bool) -> Connection:
        """An idle connection that is still good, a new one, or (at the cap) the next one to come free."""
        key = route.key
        give_up = time.monotonic() + wait
        while True:
            if reuse and (conn := self._idle_conn(key)) is not None:
                return conn
            if self._open.get(key, 0) < self._max_open:
                self._open[key] = self._open.get(key, 0) + 1
                return await self._connect(route, connect_timeout)
            fut = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(key, collections.deque()).append(fut)
            try:
                await asyncio.wait_for(fut, max(give_up - time.monotonic(), 0.0))
            except TimeoutError:
                raise HTTPError(
                    f"no connection to {key[1]}:{key[2]} came free in time "
                    f"(upstream.max_connections_per_host = {self._max_open})",
                    timeout=True,
                    before_response=True,
                ) from None
            finally:
                if not fut.done():
                    fut.cancel()

    async def _connect(self, route: Route, timeout: float) -> Connection:
        """A new connection (its slot is already counted; a failure gives it back)."""
        scheme, host, port = route.key
        loop = asyncio.get_running_loop()
        ctx = self._ssl_context() if scheme == "https" else None
        made: list[Connection] = []

        def protocol() -> Connection:
            made.append(Connection(self, route.key))
            return made[-1]

        async def open_() -> Connection:
            chost, cport = route.connect_to
            if not route.tunnel:
                _, conn = await loop.create_connection(
                    protocol, chost, cport, ssl=ctx, server_hostname=host if ctx else None
                )
                return conn
            _, conn = await loop.create_connection(protocol, chost, cport)
            assert route.proxy is not None and ctx is not None
            await conn.open_tunnel(
                f"[{host}]:{port}" if ":" in host else f"{host}:{port}", route.proxy.authorization
            )
            conn.transport = await loop.start_tls(conn.transport, conn, ctx, server_hostname=host)  # type: ignore[arg-type]
            return conn

        where = f"{host}:{port}" + (
            f" through the proxy {route.proxy.host}:{route.proxy.port}" if route.proxy else ""
        )
        try:
            return await asyncio.wait_for(open_(), timeout)
        except BaseException as e:
            for conn in made:
                conn.close()  # gives its slot back
            if not made:
                self.slot_freed(route.key)
            if isinstance(e, TimeoutError):
                raise HTTPError(
                    f"connecting to {where} timed out", timeout=True, before_response=True
                ) from None
            if isinstance(e, OSError):
                raise HTTPError(
                    f"cannot connect to {where}: {e.strerror or e}", before_response=True
                ) from None
            raise

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()  # honours SSL_CERT_FILE / SSL_CERT_DIR
        return self._ssl

    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        *,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
    ) -> Response:
        route = self._route(url)
        try:
            payload = encode_head(method, route, headers, len(body)) + body
        except ValueError as e:
            raise HTTPError(str(e), invalid=True, before_response=True) from None
        deadline = time.monotonic() + total_timeout
        replayable = method in _REPLAYABLE or "idempotency-key" in headers
        reuse = True
        while True:
            conn = self._idle_conn(route.key) if reuse else None  # the usual case: no need to wait
            if conn is None:
                wait = min(read_timeout, deadline - time.monotonic())
                conn = await self._acquire(route, connect_timeout, wait, reuse)
            ex = Exchange(self._deadlines)
            conn.exchange = ex
            assert conn.transport is not None
            conn.transport.write(payload)
            try:
                while not ex.head:
                    if ex.error is not None:
                        raise ex.error
                    await ex.wait(min(read_timeout, deadline - time.monotonic()))
            except TimeoutError:
                conn.close()
                raise HTTPError("upstream did not answer in time", timeout=True) from None
            except HTTPError as e:
                if not (conn.reused and e.before_response):
                    raise
                if replayable and reuse:
                    reuse = False  # an idempotent request on a stale connection: once more on a new one
                    continue
                raise HTTPError(
                    "upstream closed a reused keep-alive connection after the request was sent; not "
                    "replayed, since the upstream may have received it",
                    before_response=True,
                ) from None
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
