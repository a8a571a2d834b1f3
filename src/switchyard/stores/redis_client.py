"""One Redis connection pool per process (redis-py asyncio with the hiredis parser), built from `redis:` settings.

Short socket timeouts on purpose: Redis sits on the hot path (limits, cache), and a hung Redis must turn into a
fast, handled failure (fail open or closed, per configuration), not a stalled request.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ..config import RedisSettings


def connect(settings: RedisSettings) -> Redis:
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
