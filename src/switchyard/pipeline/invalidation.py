"""Instant key-cache invalidation across replicas: Redis pub/sub on `<redis.key_prefix>invalidate`.

Every process keeps gateway keys, organisations and keyrings in memory (`pipeline/auth.py`) and polls the
store's `keys_revision()` once a second to notice changes made elsewhere. With `redis.url` set, whoever
changes a key, provider key or organisation (the admin API, the CLI) also publishes one message here, and
every serving process drops its caches as soon as it arrives: a revoked key stops working on all replicas in
milliseconds instead of up to a second.

The poll stays as the backstop, and is what makes pub/sub safe to be lossy: a message published while a
subscriber is reconnecting is lost, and a lookup that read a key just before the change can re-cache the old
state just after the message — the next poll tick sees the new revision and drops it again. So nothing here
may ever fail a request or an admin change: a publish that fails is logged and counted, a lost subscription
reconnects with capped exponential backoff (and invalidates once it is back, for what it may have missed).

The payload is the publishing process's id, so a process skips its own messages (the admin API has already
invalidated locally); the CLI's messages carry an id no server has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import RedisSettings
from ..stores.redis_client import failures as redis_failures

if TYPE_CHECKING:  # redis-py is imported only where a client is made (never without `redis.url`)
    from redis.asyncio import Redis

log = logging.getLogger("switchyard.invalidation")

_BACKOFF_FIRST = 0.1  # seconds before the first reconnect
_BACKOFF_MAX = 2.0  # cheap attempts (a refused connect), and recovery within a few seconds
_STABLE_AFTER = 10.0  # a subscription that lived this long resets the backoff
_READ_WAIT = 1.0  # one read of the subscription waits at most this long
_PING_EVERY = 5.0  # liveness: a PING on an idle subscription ...
_SILENT_LIMIT = 3 * _PING_EVERY  # ... and a subscription silent for this long is treated as dead


def channel_name(settings: RedisSettings) -> str:
    return settings.key_prefix + "invalidate"


def _client(settings: RedisSettings) -> Redis:
    """A client that reports a broken connection at once (no silent internal reconnects, which would hide the
    window in which messages were lost); `Invalidation` owns retrying and backoff."""
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


def _timeout(settings: RedisSettings) -> float:
    return max(settings.timeout_ms / 1000, 1.0)  # off the request path: a slow Redis may take its time


class Invalidation:
    """Publisher and subscriber of one serving process. Without `redis.url` both are no-ops (the poll alone
    carries changes between processes)."""

    def __init__(
        self, settings: RedisSettings, on_change: Callable[[], None], *, metrics: Any = None
    ) -> None:
        self._settings = settings
        self._on_change = on_change
        self._metrics = metrics
        self._channel = channel_name(settings)
        self._id = secrets.token_hex(8).encode()
        self._client: Redis | None = _client(settings) if settings.url else None
        self._task: asyncio.Task[None] | None = None
        self.subscribed = False  # whether a subscription is live right now (for tests and diagnostics)
        self.received = 0  # messages from other processes acted upon
        self._lost = False  # the subscription failed and has not been re-established yet

    @property
    def enabled(self) -> bool:
        return self._client is not None

    async def start(self) -> None:
        """Start listening in the background; never waits for Redis, never fails the start."""
        if self._client is not None:
            self._task = asyncio.create_task(self._listen(), name="switchyard-invalidation")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            with contextlib.suppress(*redis_failures()):
                await self._client.aclose()

    async def publish(self) -> None:
        """Tell every other process that keys, provider keys or organisations changed. Call it after the
        change is committed and after invalidating locally. Never raises."""
        if self._client is None:
            return
        try:
            await _publish(self._client, self._channel, self._id, _timeout(self._settings))
        except redis_failures() as e:
            self._count("invalidate_publish")
            log.warning(
                "could not publish a key change through Redis (%s); other replicas pick it up within a second",
                type(e).__name__,
            )

    # -- the subscription ------------------------------------------------------------------------------------

    async def _listen(self) -> None:
        delay = _BACKOFF_FIRST
        while True:
            since = time.monotonic()
            try:
                await self._subscribed()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # whatever Redis does, the listener must live on
                self._count("invalidate_subscribe")
                if time.monotonic() - since >= _STABLE_AFTER:
                    delay = _BACKOFF_FIRST
                if not self._lost:
                    self._lost = True
                    log.warning(
                        "Redis pub/sub for key changes unavailable (%s: %s); reconnecting, the 1 s poll "
                        "carries key changes meanwhile",
                        type(e).__name__,
                        e,
                    )
                else:
                    log.debug("Redis pub/sub reconnect failed: %s: %s", type(e).__name__, e)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, _BACKOFF_MAX)

    async def _subscribed(self) -> None:
        """Subscribe and handle messages until the connection fails (always ends by raising)."""
        assert self._client is not None
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            last_heard = last_ping = time.monotonic()
            while True:
                message = await pubsub.get_message(timeout=_READ_WAIT)
                now = time.monotonic()
                if message is not None:
                    last_heard = now
                    self._handle(message)
                elif now - last_heard > _SILENT_LIMIT:
                    raise TimeoutError(f"no answer from Redis for {_SILENT_LIMIT:.0f} s")
                if now - last_ping >= _PING_EVERY:
                    last_ping = now
                    await pubsub.ping()
        finally:
            self.subscribed = False
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "subscribe":
            self.subscribed = True
            if self._lost:  # changes published while we were away are lost: drop everything once
                self._lost = False
                log.info("Redis pub/sub for key changes is back")
                self._changed()
        elif kind == "message" and message["data"] != self._id:
            self.received += 1
            self._changed()

    def _changed(self) -> None:
        try:
            self._on_change()
        except Exception:  # a failing listener is a bug to log, not a reason to drop the subscription
            log.exception("key-change listener failed")

    def _count(self, op: str) -> None:
        fn = getattr(self._metrics, "redis_error", None) if self._metrics is not None else None
        if fn is not None:
            fn(op)
