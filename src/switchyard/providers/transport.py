"""The only HTTP client of the gateway: one keep-alive pool per process (`providers/http1.py`).

Timeouts are explicit: connect, first byte (and between reads), and total. Every failure becomes an
`UpstreamError` with kind `connection` or `timeout`, so retry and fallback never see a raw socket error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from .base import UpstreamError, UpstreamRequest
from .http1 import HTTPError, Pool, Response


@dataclass(slots=True)
class Timeouts:
    connect: float
    first_byte: float
    total: float


def _upstream_error(e: HTTPError, what: str) -> UpstreamError:
    if e.timeout:
        return UpstreamError(504, "timeout", f"upstream timed out {what}: {e}")
    return UpstreamError(502, "connection", f"upstream connection failed {what}: {e}")


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

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.iter_chunks():
                yield chunk
        except HTTPError as e:
            raise _upstream_error(e, "mid-stream") from None

    def close(self) -> None:
        self._resp.close()  # abort: a cancelled caller must not leave the upstream generating


class Transport:
    def __init__(self, *, pool_size: int = 512, timeouts: Timeouts) -> None:
        self.timeouts = timeouts
        self._pool_size = pool_size
        self._pool: Pool | None = None

    async def start(self) -> None:
        self._pool = Pool(max_idle_per_host=self._pool_size)

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
                req.method, req.url, req.headers, req.body,
                connect_timeout=t.connect, read_timeout=t.first_byte, total_timeout=t.total,
            )
        except HTTPError as e:
            raise _upstream_error(e, "before answering") from None
        return UpstreamResponse(resp)
