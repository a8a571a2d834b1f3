"""Exact sliding-window counters in process: the reference algorithm (the Redis backend's Lua mirrors it).

A counter is a time-ordered log of settled amounts plus a set of in-flight reservations:

    used(now) = Σ amounts logged in (now - window, now]  +  Σ live reservations

An amount logged at `t` counts for exactly [t, t + window): there is no fixed-window boundary, so a burst at the
end of one minute and another at the start of the next cannot double the limit. To bound memory, a logged
amount is merged into a bucket stamped `ceil(t / grain) * grain` with `grain = window / 1000` (or into the
newest bucket when that is later still): an amount is never counted for less than its window and at most 0.1%
longer, which can only make a limit stricter. A counter therefore holds at most ~1001 buckets however busy.

Admission of one request over several counters is all-or-nothing: every counter must have `used < limit`;
only then is anything recorded — `requests` log 1 at once, `usd` reserve the request's worst-case cost,
`tokens` record nothing until the call is over. `settle` drops the request's reservation and logs the real
amount (cost, tokens) at settle time; `release` is a settle of nothing. All amounts are integers (requests,
tokens, nano-dollars) so running totals never drift. A reservation left behind (a crashed caller) lapses after
`reservation_ttl_ms`.

Idle counters are swept incrementally. Counters segmented by caller-chosen values (per user, per property) carry
a group (their gateway key or organisation); a group keeps at most `max_segment_counters` of them and drops the
least recently used beyond that, so a caller minting a new user id per request cannot grow memory without bound.

asyncio gives atomicity for free here: no operation awaits between its check and its writes.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from .limiter_types import REQUESTS, USD, Charge, Decision

RESERVED_RETRY_MS = 1000  # Retry-After when only in-flight reservations stand in the way


def retry_after_ms(log: list[tuple[int, int]], used: int, limit: int, window_ms: int, now: int) -> int:
    """How long until enough of the log ages out for `used < limit` again. When even an empty log would not do,
    in-flight reservations hold the rest: they turn into (usually far smaller) real costs as those calls end,
    typically within seconds, so the hint is a second (or the window, if shorter)."""
    excess = used - limit + 1
    freed = 0
    for ts, amount in log:
        freed += amount
        if freed >= excess:
            return max(1, ts + window_ms - now)
    return min(window_ms, RESERVED_RETRY_MS)


@dataclass(slots=True)
class _Counter:
    window_ms: int
    grain_ms: int
    group: str = ""
    log: deque[list[int]] = field(default_factory=deque)  # [bucket ts, amount], ascending ts
    total: int = 0
    reserved: dict[str, tuple[int, int]] = field(default_factory=dict)  # rid → (amount, expires at)
    reserved_total: int = 0
    next_lapse: int = 0  # earliest reservation expiry (skip the scan until then)

    def expire(self, now: int) -> None:
        log, window = self.log, self.window_ms
        while log and log[0][0] + window <= now:
            self.total -= log.popleft()[1]
        if self.reserved and now >= self.next_lapse:
            for rid, (amount, until) in list(self.reserved.items()):
                if until <= now:
                    del self.reserved[rid]
                    self.reserved_total -= amount
            self.next_lapse = min((u for _, u in self.reserved.values()), default=0)

    def add(self, now: int, amount: int) -> None:
        grain = self.grain_ms
        bucket = -(-now // grain) * grain
        log = self.log
        if log and log[-1][0] >= bucket:
            log[-1][1] += amount
        else:
            log.append([bucket, amount])
        self.total += amount

    def reserve(self, rid: str, amount: int, until: int) -> None:
        old = self.reserved.get(rid)
        if old is not None:
            self.reserved_total -= old[0]
        self.reserved[rid] = (amount, until)
        self.reserved_total += amount
        if self.next_lapse == 0 or until < self.next_lapse:
            self.next_lapse = until

    def unreserve(self, rid: str) -> None:
        old = self.reserved.pop(rid, None)
        if old is not None:
            self.reserved_total -= old[0]

    def reset_ms(self, now: int) -> int | None:
        return self.log[0][0] + self.window_ms - now if self.log else None

    def idle(self, now: int) -> bool:
        self.expire(now)
        return not self.log and not self.reserved


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000  # monotonic: a wall-clock step must not expire amounts early


class MemoryLimiter:
    """Counters in a dict; idle ones are swept incrementally (a few per operation), so memory follows the set of
    counters active within their window, and segmented ones are capped per group (least recently used out)."""

    local = True  # no I/O: callers may settle inline instead of scheduling a task
    failures: tuple[type[BaseException], ...] = ()  # nothing to fail
    timeouts: tuple[type[BaseException], ...] = ()
    live: int | None = None  # `len()` is exact here

    def __init__(self, reservation_ttl_ms: int = 3_600_000, max_segment_counters: int = 10_000) -> None:
        self._counters: dict[str, _Counter] = {}
        self._groups: dict[
            str, OrderedDict[str, None]
        ] = {}  # group → its counters, least recently used first
        self._cap = max_segment_counters
        self._ttl = reservation_ttl_ms
        self._sweep: list[str] = []
        self._ops = 0
        self.evicted = 0  # segmented counters dropped to honour the cap

    def __len__(self) -> int:
        return len(self._counters)

    def _get(self, c: Charge) -> _Counter:
        counter = self._counters.get(c.counter)
        if counter is None:
            counter = self._counters[c.counter] = _Counter(c.window_ms, c.grain_ms, c.group)
            if c.group:
                self._groups.setdefault(c.group, OrderedDict())[c.counter] = None
        elif c.group:
            members = self._groups.setdefault(c.group, OrderedDict())
            members[c.counter] = None
            members.move_to_end(c.counter)
        return counter

    def _trim(self, charges: list[Charge]) -> None:
        """Drop the least recently used counters of each group over the cap (this operation's are the most
        recent, so they go last)."""
        for c in charges:
            members = self._groups.get(c.group) if c.group else None
            while members is not None and len(members) > self._cap:
                name, _ = members.popitem(last=False)
                self._counters.pop(name, None)
                self.evicted += 1

    def _forget(self, name: str, counter: _Counter) -> None:
        del self._counters[name]
        if counter.group:
            members = self._groups.get(counter.group)
            if members is not None:
                members.pop(name, None)
                if not members:
                    del self._groups[counter.group]

    def acquire_now(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> Decision:
        now = _now_ms() if now_ms is None else now_ms
        self._ops += 1
        if not self._ops & 63:
            self._tick(now)
        found = self._counters.get
        counters: list[_Counter] = []
        used: list[int] = []
        blocked, wait = -1, 0
        for c in charges:  # one pass that only reads: find (or make), expire, check
            counter = found(c.counter)
            if counter is None or c.group:
                counter = self._get(c)
            log = counter.log
            if counter.reserved or (log and log[0][0] + counter.window_ms <= now):
                counter.expire(now)
            counters.append(counter)
            u = counter.total + counter.reserved_total
            used.append(u)
            if u >= c.limit:
                w = retry_after_ms([(ts, a) for ts, a in log], u, c.limit, c.window_ms, now)
                if w > wait:
                    blocked, wait = len(used) - 1, w
        if blocked >= 0:
            if self._groups:
                self._trim(charges)
            return Decision(False, used, [k.reset_ms(now) for k in counters], blocked, wait)
        until = now + self._ttl
        for i, c in enumerate(charges):
            if c.metric == REQUESTS:
                counters[i].add(now, c.amount)
                used[i] += c.amount
            elif c.metric == USD and c.amount > 0:
                counters[i].reserve(rid, c.amount, until)
                used[i] += c.amount
        if self._groups:  # only grouped (segmented) counters are capped
            self._trim(charges)
        return Decision(True, used, [k.log[0][0] + k.window_ms - now if k.log else None for k in counters])

    def settle_now(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> None:
        now = _now_ms() if now_ms is None else now_ms
        for c in charges:
            if c.metric == REQUESTS or (c.amount <= 0 and c.counter not in self._counters):
                continue  # nothing to log, and no reservation to drop (an evicted counter took it along)
            counter = self._get(c)
            if c.metric == USD:
                counter.unreserve(rid)
            if c.amount > 0:
                counter.add(now, c.amount)
        self._trim(charges)

    async def acquire(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> Decision:
        return self.acquire_now(rid, charges, now_ms)

    async def settle(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> None:
        self.settle_now(rid, charges, now_ms)

    async def release(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> None:
        self.settle_now(
            rid, [Charge(c.counter, c.metric, c.limit, c.window_ms, 0, c.group) for c in charges], now_ms
        )

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._counters.clear()
        self._groups.clear()

    def _tick(self, now: int) -> None:
        """Every 64 admissions (the caller counts them in `_ops`) look at 64 counters and drop the idle ones: O(1)
        amortised, no pauses."""
        if not self._sweep:
            self._sweep = list(self._counters)
        sweep = self._sweep
        for _ in range(min(64, len(sweep))):
            name = sweep.pop()
            counter = self._counters.get(name)
            if counter is not None and counter.idle(now):
                self._forget(name, counter)
