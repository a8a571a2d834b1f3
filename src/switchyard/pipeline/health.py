"""Circuit breaker per provider endpoint: stop sending traffic to an endpoint that keeps failing, probe it later.

Pure state machine with an injectable clock: no I/O, no tasks, no locks (one event loop per process). Each
worker process keeps its own breaker state; with `--workers N` an endpoint is ejected per worker.

    closed ──`failures` counted failures in a row (or one `auth`)──▶ open
    open ──open period elapsed, next allow()──▶ half-open (that caller is the single probe)
    half-open ──probe succeeds──▶ closed      half-open ──probe fails──▶ open, period doubled (capped)

Only failures that say something about the endpoint count (connection, timeout, server, overloaded,
rate_limited, and any kind this module does not know). `auth` (the provider rejected the gateway's key) opens
at once: retrying a bad key cannot help. bad_request / context_length / not_found / unsupported are about the
caller's request and leave the circuit alone.

A probe that never reports (its request was cancelled) must not wedge the circuit: once `open_seconds` have
passed since the probe was handed out, the next caller becomes the probe.

Memory: only endpoints with something to remember are tracked. A success forgets the endpoint (closed with no
failures is the default), so the table holds failing endpoints only, and it is capped: past `max_tracked`,
closed entries go first, then the oldest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..config import BreakerSettings

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"

# The caller's problem, not the endpoint's: these never move the circuit. `circuit_open` (the gateway's own
# refusal) and `cancelled` (the caller left, or a hedge won) say nothing about the endpoint either.
UNCOUNTED_KINDS = frozenset(
    {"bad_request", "context_length", "not_found", "unsupported", "circuit_open", "cancelled"}
)

HEALTHY, DEGRADED, UNAVAILABLE = 0, 1, 2


class _Entry:
    __slots__ = (
        "failures",
        "kind",
        "last_failure",
        "open_for",
        "opened_at",
        "opened_wall",
        "probe_at",
        "state",
    )

    def __init__(self) -> None:
        self.state = CLOSED
        self.failures = 0
        self.last_failure = 0.0  # clock time of the latest counted failure
        self.opened_at = 0.0  # clock time the circuit (re)opened
        self.opened_wall: float | None = None  # the same moment in epoch seconds, for snapshots
        self.open_for = 0.0  # the current open period (doubles on each failed probe)
        self.probe_at: float | None = None  # clock time the half-open probe was handed out
        self.kind: str | None = None  # last error kind seen (counted or not)


class Health:
    def __init__(
        self,
        settings: BreakerSettings,
        clock: Callable[[], float] = time.monotonic,
        *,
        wall: Callable[[], float] = time.time,
        max_tracked: int = 4096,
    ) -> None:
        self._threshold = settings.failures
        self._base = min(settings.open_seconds, settings.max_open_seconds)
        self._cap = settings.max_open_seconds
        self._probe_timeout = settings.open_seconds
        self._clock = clock
        self._wall = wall
        self._max = max_tracked
        self._entries: dict[str, _Entry] = {}

    # --- the gate -------------------------------------------------------------------------------------------

    def allow(self, endpoint: str) -> bool:
        """May a request go to `endpoint` now? Call it right before sending: in half-open it hands out the probe."""
        e = self._entries.get(endpoint)
        if e is None or e.state == CLOSED:
            return True
        now = self._clock()
        if e.state == OPEN:
            if now - e.opened_at < e.open_for:
                return False
            e.state = HALF_OPEN
            e.probe_at = now
            return True
        if e.probe_at is None or now - e.probe_at >= self._probe_timeout:  # no probe out, or it was lost
            e.probe_at = now
            return True
        return False

    def success(self, endpoint: str) -> None:
        """The endpoint answered: close the circuit and forget its failures and open period."""
        if self._entries:
            self._entries.pop(endpoint, None)

    def failure(self, endpoint: str, kind: str) -> None:
        e = self._entries.get(endpoint)
        if kind in UNCOUNTED_KINDS:
            if e is not None:
                e.kind = kind
                if e.state == HALF_OPEN:
                    e.probe_at = None  # the probe got an answer, just not a verdict: the next caller probes
            return
        now = self._clock()
        if e is None:
            e = self._track(endpoint)
        e.kind = kind
        e.failures += 1
        e.last_failure = now
        if e.state == HALF_OPEN:
            self._open(e, now, min(e.open_for * 2, self._cap))
        elif e.state == CLOSED and (kind == "auth" or e.failures >= self._threshold):
            self._open(e, now, self._base)
        # already open: a straggler that was in flight when it opened; the open period stands

    def _open(self, e: _Entry, now: float, period: float) -> None:
        e.state = OPEN
        e.opened_at = now
        e.opened_wall = self._wall()
        e.open_for = period
        e.probe_at = None

    def _track(self, endpoint: str) -> _Entry:
        if len(self._entries) >= self._max:
            self._evict()
        e = self._entries[endpoint] = _Entry()
        return e

    def _evict(self) -> None:
        """Make room: drop closed entries (a few failures, never opened) first, then the oldest entry."""
        closed = [k for k, v in self._entries.items() if v.state == CLOSED]
        for k in closed[: max(1, len(closed) // 2)]:
            del self._entries[k]
        if len(self._entries) >= self._max:
            del self._entries[next(iter(self._entries))]

    # --- reading ------------------------------------------------------------------------------------------

    def score(self, endpoint: str) -> int:
        """Sort key for attempts (stable sort, so equal scores keep the caller's order): 0 healthy, 1 degraded,
        2 unavailable.

        1 = closed with a failure in the last `open_seconds`; older failures score 0 again, so one blip does not
        demote an endpoint for good. 2 = open inside its open period, or half-open with its probe out: allow()
        refuses it. An endpoint whose probe is due scores 0 and keeps its place in the order: the next request
        is the probe. Ranking it behind a healthy fallback would mean it is never tried, so a recovered primary
        would never get its traffic back.
        """
        e = self._entries.get(endpoint)
        if e is None:
            return HEALTHY
        now = self._clock()
        if e.state == OPEN:
            return UNAVAILABLE if now - e.opened_at < e.open_for else HEALTHY
        if e.state == HALF_OPEN:
            probe_out = e.probe_at is not None and now - e.probe_at < self._probe_timeout
            return UNAVAILABLE if probe_out else HEALTHY
        return DEGRADED if now - e.last_failure < self._probe_timeout else HEALTHY

    @property
    def any_unhealthy(self) -> bool:
        """False means every endpoint scores 0 and allow() is True everywhere: the hot path can skip sorting.
        True when any endpoint has a recorded failure (conservative: it may since have aged back to 0)."""
        return bool(self._entries)

    def state(self, endpoint: str) -> str:
        """closed | half_open | open, as a caller would experience it now (an open period that has run out
        reads half_open: the next allow() probes)."""
        e = self._entries.get(endpoint)
        if e is None:
            return CLOSED
        if e.state == OPEN and self._clock() - e.opened_at >= e.open_for:
            return HALF_OPEN
        return e.state

    def snapshot(self) -> list[dict[str, Any]]:
        """Every tracked endpoint (untracked ones are closed and healthy), for /metrics and the admin API."""
        now = self._clock()
        out = []
        for endpoint, e in self._entries.items():
            retry_in = max(0.0, e.opened_at + e.open_for - now) if e.state == OPEN else 0.0
            out.append(
                {
                    "endpoint": endpoint,
                    "state": HALF_OPEN if e.state == OPEN and retry_in == 0.0 else e.state,
                    "consecutive_failures": e.failures,
                    "opened_at": e.opened_wall if e.state != CLOSED else None,
                    "retry_in_seconds": round(retry_in, 3),
                    "last_error_kind": e.kind,
                }
            )
        return out
