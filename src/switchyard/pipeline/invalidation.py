"""Instant key-cache invalidation across replicas: the policy over a pub/sub channel (Redis:
`stores/invalidation_redis.py`, `<redis.key_prefix>invalidate`).

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
import logging
import random
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from .. import background

log = logging.getLogger("switchyard.invalidation")

_BACKOFF_FIRST = 0.1  # seconds before the first reconnect
_BACKOFF_MAX = 2.0  # cheap attempts (a refused connect), and recovery within a few seconds
_STABLE_AFTER = 10.0  # a subscription that lived this long resets the backoff


class Channel(Protocol):
    """A broadcast channel between the gateway's processes (`stores/invalidation_redis.py`)."""

    @property
    def failures(self) -> tuple[type[BaseException], ...]: ...

    async def publish(self, payload: bytes) -> None: ...

    async def subscribe(
        self, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]
    ) -> None: ...

    async def close(self) -> None: ...


class Invalidation:
    """Publisher and subscriber of one serving process. Without a channel (no `redis.url`) both are no-ops (the
    poll alone carries changes between processes)."""

    def __init__(
        self, channel: Channel | None, on_change: Callable[[], None], *, metrics: Any = None
    ) -> None:
        self._channel = channel
        self._on_change = on_change
        self._metrics = metrics
        self._id = secrets.token_hex(8).encode()
        self._task: asyncio.Task[None] | None = None
        self.subscribed = False  # whether a subscription is live right now (for tests and diagnostics)
        self.received = 0  # messages from other processes acted upon
        self._lost = False  # the subscription failed and has not been re-established yet

    @property
    def enabled(self) -> bool:
        return self._channel is not None

    async def start(self) -> None:
        """Start listening in the background; never waits for Redis, never fails the start."""
        if self._channel is not None:
            self._task = asyncio.create_task(self._listen(self._channel), name="switchyard-invalidation")

    async def close(self) -> None:
        await background.stop(self._task)
        self._task = None
        if self._channel is not None:
            await self._channel.close()

    async def publish(self) -> None:
        """Tell every other process that keys, provider keys or organisations changed. Call it after the
        change is committed and after invalidating locally. Never raises."""
        channel = self._channel
        if channel is None:
            return
        try:
            await channel.publish(self._id)
        except channel.failures as e:
            self._count("invalidate_publish")
            log.warning(
                "could not publish a key change through Redis (%s); other replicas pick it up within a second",
                type(e).__name__,
            )

    # -- the subscription ------------------------------------------------------------------------------------

    async def _listen(self, channel: Channel) -> None:
        delay = _BACKOFF_FIRST
        while True:
            since = time.monotonic()
            try:
                await channel.subscribe(self._message, self._subscribed)
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
            finally:
                self.subscribed = False
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, _BACKOFF_MAX)

    def _subscribed(self) -> None:
        self.subscribed = True
        if self._lost:  # changes published while we were away are lost: drop everything once
            self._lost = False
            log.info("Redis pub/sub for key changes is back")
            self._changed()

    def _message(self, payload: bytes) -> None:
        if payload != self._id:
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
