"""Redis pub/sub for key-cache invalidation: the channel `<redis.key_prefix>invalidate`, a publisher for short-lived
processes (the CLI's `notify`), and the subscription one serving process holds (`RedisInvalidationChannel`).

This is the transport only: what a message means, reconnecting with backoff and never failing a request or an
admin change is the pipeline's policy (`pipeline/invalidation.py`). The client reports a broken connection at once
(no silent internal reconnects, which would hide the window in which messages were lost).

Nothing here imports redis-py until a client is made (`stores/redis_client.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import RedisSettings
from .redis_client import failures as redis_failures

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("switchyard.invalidation")

_READ_WAIT = 1.0  # one read of the subscription waits at most this long
_PING_EVERY = 5.0  # liveness: a PING on an idle subscription ...
_SILENT_LIMIT = 3 * _PING_EVERY  # ... and a subscription silent for this long is treated as dead


def channel_name(settings: RedisSettings) -> str:
    return settings.key_prefix + "invalidate"


def _client(settings: RedisSettings) -> Redis:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    timeout = settings.timeout_ms / 1000
    return Redis.from_url(
        settings.url or "",
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        max_connections=8,
        decode_responses=False,
    )


def _timeout(settings: RedisSettings) -> float:
    return max(settings.timeout_ms / 1000, 1.0)  # off the request path: a slow Redis may take its time


async def _publish(client: Redis, channel: str, payload: bytes, timeout: float) -> None:
    """PUBLISH once; a pooled connection found dead (Redis restarted) is replaced and the call made again."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    async with asyncio.timeout(timeout):
        try:
            await client.publish(channel, payload)
        except RedisConnectionError:
            await client.publish(channel, payload)


async def notify(settings: RedisSettings) -> bool:
    """Publish one change from a short-lived process (the CLI). True when published; False (with a warning)
    when Redis is unreachable, which only delays the change to the running gateways' next poll."""
    if not settings.url:
        return False
    client = _client(settings)
    try:
        await _publish(
            client, channel_name(settings), b"cli:" + secrets.token_hex(8).encode(), _timeout(settings)
        )
        return True
    except redis_failures() as e:
        log.warning(
            "could not notify running gateways through Redis (%s); they pick the change up within a second",
            type(e).__name__,
        )
        return False
    finally:
        with contextlib.suppress(*redis_failures()):
            await client.aclose()


class RedisInvalidationChannel:
    """One serving process's publisher and subscription on the invalidation channel."""

    def __init__(self, settings: RedisSettings) -> None:
        self._settings = settings
        self._name = channel_name(settings)
        self._client = _client(settings)

    @property
    def failures(self) -> tuple[type[BaseException], ...]:
        return redis_failures()

    async def publish(self, payload: bytes) -> None:
        """Raises one of `failures` when Redis cannot be reached in time."""
        await _publish(self._client, self._name, payload, _timeout(self._settings))

    async def subscribe(self, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]) -> None:
        """Subscribe and hand every message's payload to `on_message` until the connection fails: always ends by
        raising (a subscription silent for too long despite PINGs counts as failed)."""
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(self._name)
            last_heard = last_ping = time.monotonic()
            while True:
                message: dict[str, Any] | None = await pubsub.get_message(timeout=_READ_WAIT)
                now = time.monotonic()
                if message is not None:
                    last_heard = now
                    if message["type"] == "subscribe":
                        on_subscribed()
                    elif message["type"] == "message":
                        on_message(message["data"])
                elif now - last_heard > _SILENT_LIMIT:
                    raise TimeoutError(f"no answer from Redis for {_SILENT_LIMIT:.0f} s")
                if now - last_ping >= _PING_EVERY:
                    last_ping = now
                    await pubsub.ping()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def close(self) -> None:
        with contextlib.suppress(*redis_failures()):
            await self._client.aclose()
