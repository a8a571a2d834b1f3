"""The only HTTP client of the gateway: one pooled aiohttp session per process.

aiohttp over httpx: on this workload (small JSON bodies, SSE streams, high concurrency) aiohttp's C-accelerated
client measured markedly faster (bench/README.md). Timeouts are explicit: connect, first byte / between reads,
and total. Every failure becomes an `UpstreamError` with kind `connection` or `timeout`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from .base import UpstreamError, UpstreamRequest


@dataclass(slots=True)
class Timeouts:
    connect: float
    first_byte: float
    total: float


class UpstreamResponse:
    """A response whose headers have arrived. Read it whole (`read`) or as a stream (`iter_chunks`)."""

    __slots__ = ("_resp", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.headers.items()}

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except TimeoutError:
            raise UpstreamError(504, "timeout", "upstream timed out while sending its response") from None
        except aiohttp.ClientError as e:
            raise UpstreamError(502, "connection", f"upstream connection failed mid-response: {type(e).__name__}") from None
        finally:
            self._resp.release()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except TimeoutError:
            raise UpstreamError(504, "timeout", "upstream stream stalled past the read timeout") from None
        except aiohttp.ClientError as e:
            raise UpstreamError(502, "connection", f"upstream stream broke: {type(e).__name__}") from None

    def close(self) -> None:
        self._resp.close()  # abort: a cancelled caller must not leave the upstream generating


class Transport:
    def __init__(self, *, pool_size: int = 512, timeouts: Timeouts) -> None:
        self.timeouts = timeouts
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=60)
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",), cookie_jar=aiohttp.DummyCookieJar()
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, req: UpstreamRequest, timeouts: Timeouts | None = None) -> UpstreamResponse:
        """Send and wait for the response headers. The caller owns the response and must read or close it."""
        assert self._session is not None, "transport not started"
        t = timeouts or self.timeouts
        timeout = aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.first_byte)
        try:
            resp = await self._session.request(req.method, req.url, data=req.body, headers=req.headers, timeout=timeout)
        except TimeoutError:
            raise UpstreamError(504, "timeout", "upstream did not answer in time") from None
        except aiohttp.ClientConnectorError as e:
            raise UpstreamError(502, "connection", f"cannot connect to upstream {e.host}:{e.port}") from None
        except aiohttp.ClientError as e:
            raise UpstreamError(502, "connection", f"upstream connection failed: {type(e).__name__}") from None
        return UpstreamResponse(resp)
