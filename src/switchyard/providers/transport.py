"""The only HTTP client of the gateway: one keep-alive pool per process (`providers/http1.py`).

Timeouts are explicit: connect, first byte (and between reads), and total. Every failure becomes an
`UpstreamError`, so retry and fallback never see a raw socket error: kind `connection` or `timeout` (they count
against the circuit breaker); a response over `upstream.max_response_bytes` is a 502 of kind `bad_request` (the
request asked for too much: no retry, no move-on, no breaker count); a request the client refuses to send (a
header value with a line break, a URL that is not valid) is a 400 of kind `unsupported` (the next provider may
build a valid one; no breaker count).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from .base import UpstreamError, UpstreamRequest
from .egress_proxy import ProxySettings
from .http1 import HTTPError, Pool, Response


@dataclass(slots=True)
class Timeouts:
    connect: float
    first_byte: float
    total: float


def _upstream_error(e: HTTPError, what: str) -> UpstreamError:
    if e.invalid:
        return UpstreamError(
            400,
            "unsupported",
            f"the gateway refused to send this request upstream: {e}",
            code="invalid_upstream_request",
        )
    if e.too_large:
        return UpstreamError(
            502, "bad_request", f"upstream response too large: {e}", code="upstream_response_too_large"
        )
    if e.timeout:
        return UpstreamError(504, "timeout", f"upstream timed out {what}: {e}")
    return UpstreamError(502, "connection", f"upstream connection failed {what}: {e}")


def _mid_stream(e: HTTPError) -> UpstreamError:
    return _upstream_error(e, "mid-stream")


class UpstreamResponse:
    """A response whose headers have arrived. Read it whole (`read`) or as a stream (`iter_chunks`)."""

    __slots__ = ("_resp", "headers", "status")

    def __init__(self, resp: Response) -> None:
        self._resp = resp
        self.status = resp.status
        self.headers = resp.headers  # lowercase names

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except HTTPError as e:
            raise _upstream_error(e, "while sending its response") from None

    def iter_chunks(self) -> AsyncIterator[bytes]:
        resp = self._resp
        if type(resp) is Response:  # the client's own: one generator, which raises UpstreamError itself
            return resp.iter_chunks(_mid_stream)
        return self._translated(resp)  # another pool's response (a stand-in): its HTTPError translated here

    @staticmethod
    async def _translated(resp: Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.iter_chunks():
                yield chunk
        except HTTPError as e:
            raise _mid_stream(e) from None

    def close(self) -> None:
        self._resp.close()  # abort: a cancelled caller must not leave the upstream generating


class Transport:
    """`env` (default: the process environment) is read once, here, for HTTP(S)_PROXY and NO_PROXY; a proxy URL
    that cannot be used raises ValueError naming the variable."""

    def __init__(
        self,
        *,
        pool_size: int = 512,
        timeouts: Timeouts,
        max_connections_per_host: int = 1024,
        max_response_bytes: int = 256 << 20,
        idle_timeout: float = 50.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.timeouts = timeouts
        self._limits = {
            "max_idle_per_host": pool_size,
            "max_connections_per_host": max_connections_per_host,
            "max_response_bytes": max_response_bytes,
            "idle_timeout": idle_timeout,
        }
        self._proxies = ProxySettings.from_env(os.environ if env is None else env)
        self._pool: Pool | None = None

    async def start(self) -> None:
        self._pool = Pool(proxies=self._proxies, **self._limits)  # type: ignore[arg-type]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def send(self, req: UpstreamRequest, timeouts: Timeouts | None = None) -> UpstreamResponse:
        """Send and wait for the response headers. The caller owns the response and must read or close it."""
        assert self._pool is not None, "transport not started"
        t = timeouts or self.timeouts
        try:
            resp = await self._pool.request(
                req.method,
                req.url,
                req.headers,
                req.body,
                connect_timeout=t.connect,
                read_timeout=t.first_byte,
                total_timeout=t.total,
            )
        except HTTPError as e:
            raise _upstream_error(e, "before answering") from None
        return UpstreamResponse(resp)
