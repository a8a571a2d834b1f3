"""What every limiter backend shares (`limiter_memory` in process, `limiter_redis` across replicas) and what the
pipeline's `Limits` sees of them: the metrics, one rule's charge, an admission decision, and the backend contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

REQUESTS, TOKENS, USD = "requests", "tokens", "usd"
NANO_PER_USD = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Charge:
    """One rule applied to one request. `amount`: at admission, 1 for requests, the reservation (nano-dollars)
    for usd, 0 for tokens; at settle, the real amount to log."""

    counter: str  # unique per (metric, window, scope)
    metric: str
    limit: int  # requests, tokens or nano-dollars
    window_ms: int
    amount: int = 0
    group: str = ""  # segmented counters (per user/property): their key or organisation, capped per group

    @property
    def grain_ms(self) -> int:
        return max(1, self.window_ms // 1000)


@dataclass(slots=True)
class Decision:
    admitted: bool
    used: list[int]  # per charge, after the decision: settled + reserved
    reset_ms: list[int | None]  # per charge: until the oldest logged amount ages out (None: nothing logged)
    blocked: int = -1  # the refused charge that waits longest
    retry_after_ms: int = 0


class Limiter(Protocol):
    """One backend: all-or-nothing admission over several counters, settlement and release, each atomic.

    `local`: no I/O (the caller may use `acquire_now`/`settle_now` inline). `failures`: the exceptions a call may
    raise when the backend is unreachable (the caller's policy decides: fail open or closed); `timeouts`: those
    of them that leave unknown whether the call took effect. `live`: live counters as of the last call (None:
    unknown); `evicted`: segmented counters dropped to honour the per-group cap."""

    local: bool
    failures: tuple[type[BaseException], ...]
    timeouts: tuple[type[BaseException], ...]
    live: int | None
    evicted: int

    async def acquire(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> Decision: ...

    async def settle(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> None: ...

    async def release(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class LocalLimiter(Limiter, Protocol):
    """A limiter without I/O: synchronous admission and settlement, and an exact count of its counters."""

    def acquire_now(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> Decision: ...

    def settle_now(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> None: ...

    def __len__(self) -> int: ...
