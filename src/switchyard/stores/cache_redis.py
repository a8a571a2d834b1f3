"""Redis response-cache backend: shared by every replica, entries expire in Redis itself (SET PX).

Keys live under `redis.key_prefix` + "cache:" so one Redis can serve several gateways (and test runs). A
bucket's slots are read with one MGET. Every call is bounded by the configured timeout; any Redis error or
timeout becomes `StoreUnavailable`, which the cache facade turns into a miss or a skipped save.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .base import StoreUnavailable

_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class RedisCache:
    def __init__(self, client: Redis, prefix: str, timeout_ms: int, *, owns_client: bool = True) -> None:
        self._client = client
        self._prefix = prefix + "cache:"
        self._timeout = timeout_ms / 1000
        self._owns = owns_client

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            async with asyncio.timeout(self._timeout):
                values = await self._client.mget([self._prefix + k for k in keys])
        except _FAILURES as e:
            raise StoreUnavailable(f"redis MGET failed: {type(e).__name__}: {e}") from None
        return cast(list[bytes | None], values)  # the client is made with decode_responses=False

    async def set(self, key: str, value: bytes, ttl_ms: int) -> None:
        if ttl_ms <= 0:
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.set(self._prefix + key, value, px=ttl_ms)
        except _FAILURES as e:
            raise StoreUnavailable(f"redis SET failed: {type(e).__name__}: {e}") from None

    async def close(self) -> None:
        if self._owns:
            await self._client.aclose()
