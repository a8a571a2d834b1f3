"""State shared by replicas: Redis (cache, limits, key-cache invalidation) and the response cache."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from .base import Strict


class RedisSettings(Strict):
    """Shared state for replicas: cache, rate limits, budgets, key-cache invalidation. Unset: in-process."""

    url: str | None = None
    # What limits do while Redis is unreachable: "open" admits (and counts in process), "closed" answers 503.
    on_failure: Literal["open", "closed"] = "open"
    # How long one Redis call may take before it counts as a failure. Generous on purpose: a replica whose event
    # loop is saturated sees slow answers from a healthy Redis, and failing open then would count per replica.
    timeout_ms: int = Field(1000, ge=10)
    key_prefix: str = "switchyard:"

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^rediss?://", v):
            raise ValueError("must start with redis:// or rediss://")
        return v


class CacheSettings(Strict):
    """The response cache (Helicone-Cache-Enabled). In-process LRU unless redis.url is set."""

    max_entries: int = Field(10_000, ge=1)
    max_bytes: int = Field(256 * 1024 * 1024, ge=1024)
    max_entry_bytes: int = Field(8 * 1024 * 1024, ge=1024)  # larger answers are not stored
