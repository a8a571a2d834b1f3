"""Session pins shared by every replica (pipeline/session_pins.py): one Redis string per pin, expiring in Redis.

Key: `redis.key_prefix` + "pin:" + organisation id + ":" + the pin's hash (affinity key and model string; the
caller's text is never stored). Value: the pinned endpoint (`openai:byok:<org>:<key id>|<model>`, no secret).
Every call is bounded by the configured timeout; a Redis error or timeout becomes `StoreUnavailable`, and the
pipeline then uses its in-process pins.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .base import StoreUnavailable

_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class RedisPins:
    def __init__(self, client: Redis, prefix: str, timeout_ms: int) -> None:
        self._client = client
        self._prefix = prefix + "pin:"
        self._timeout = timeout_ms / 1000

    def _key(self, org: str, key: str) -> str:
        return f"{self._prefix}{org}:{key}"

    async def get(self, org: str, key: str) -> str | None:
        try:
            async with asyncio.timeout(self._timeout):
                value = await self._client.get(self._key(org, key))
        except _FAILURES as e:
            raise StoreUnavailable(f"redis GET failed: {type(e).__name__}: {e}") from None
        return value.decode() if isinstance(value, bytes) else value  # bytes: the client never decodes

    async def put(self, org: str, key: str, target: str, ttl: float) -> None:
        """Set the pin (a move) or refresh its lifetime (the same endpoint served again)."""
        ttl_ms = int(ttl * 1000)
        if ttl_ms <= 0:
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.set(self._key(org, key), target.encode(), px=ttl_ms)
        except _FAILURES as e:
            raise StoreUnavailable(f"redis SET failed: {type(e).__name__}: {e}") from None
