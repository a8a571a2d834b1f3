"""Which store backends a configuration gets: the limiter (in process, or Redis with an in-process fallback) and
the key-change channel (Redis pub/sub, or none). The pipeline holds the policy over them (`pipeline/limits.py`,
`pipeline/invalidation.py`) and never builds a backend itself.

redis-py is imported only when `redis.url` is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config import RedisSettings, Settings
from .limiter_memory import MemoryLimiter
from .limiter_types import Limiter, LocalLimiter

if TYPE_CHECKING:
    from .invalidation_redis import RedisInvalidationChannel


def open_limiters(settings: Settings, redis: Any = None) -> tuple[Limiter, LocalLimiter]:
    """(backend, in-process fallback): the same in-process limiter twice without `redis.url`, else the Redis
    limiter (on `redis`, a client to share, or its own) and a fresh in-process one for `on_failure: open`."""
    ttl = settings.credits.reservation_ttl_seconds * 1000
    cap = settings.limits.max_segment_counters
    memory = MemoryLimiter(ttl, cap)
    rs = settings.redis
    if not rs.url:
        return memory, memory
    from .limiter_redis import RedisLimiter
    from .redis_client import connect

    client = redis if redis is not None else connect(rs)
    shared = RedisLimiter(client, rs.key_prefix, ttl, owns_client=redis is None, max_segment_counters=cap)
    return shared, memory


def open_invalidation_channel(settings: RedisSettings) -> RedisInvalidationChannel | None:
    """The key-change channel between processes (`pipeline.invalidation.Channel`), or None without `redis.url`."""
    if not settings.url:
        return None
    from .invalidation_redis import RedisInvalidationChannel

    return RedisInvalidationChannel(settings)
