"""One Redis connection pool per process (redis-py asyncio with the hiredis parser), built from `redis:` settings.

Short socket timeouts on purpose: Redis sits on the hot path (limits, cache), and a hung Redis must turn into a
fast, handled failure (fail open or closed, per configuration), not a stalled request.

Nothing here imports redis-py until a client is made: a gateway without `redis.url` never loads it (redis-py
also loads OpenTelemetry's SDK for its own metrics, ~17 MB of a serving process that would never use them).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ..config import RedisSettings

if TYPE_CHECKING:
    from redis.asyncio import Redis


@functools.cache
def failures() -> tuple[type[BaseException], ...]:
    """What a Redis call can raise when Redis is down or slow: for `except failures():` (evaluated only when an
    exception is being matched, so code paths without Redis never import it)."""
    from redis.exceptions import RedisError

    return (RedisError, OSError, TimeoutError)


@functools.cache
def timeouts() -> tuple[type[BaseException], ...]:
    """asyncio's and redis-py's timeouts."""
    from redis.exceptions import TimeoutError as RedisTimeout

    return (TimeoutError, RedisTimeout)


def connect(settings: RedisSettings) -> Redis:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    if not settings.url:
        raise ValueError("redis.url is not set")
    timeout = settings.timeout_ms / 1000
    return Redis.from_url(
        settings.url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        # One immediate retry (a connection that died while idle, e.g. after a Redis restart), never the default
        # ten with backoff: that would stall requests for seconds against a Redis that is down.
        retry=Retry(NoBackoff(), 1),
        max_connections=256,
        decode_responses=False,
    )
