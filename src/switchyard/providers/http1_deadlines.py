"""The timeouts of the upstream client's waits (`http1_response.Exchange.wait`) on one loop timer per pool.

A timer handle per wait (`loop.call_at`, then `cancel`) cost about as much as the rest of the wait: the handle,
its context copy, the scheduler heap's Python-level comparisons and the sweep of cancelled handles, on every
request and every stream read. Here a wait only records its deadline in a dict and takes it out when it ends;
one timer stands at the earliest deadline that can still be due. When it fires, every wait due by then fails
with TimeoutError and the timer moves to the earliest deadline left (a wait that ended before its deadline is
simply gone from the dict). A new wait due before the timer moves it forward. Each wait therefore times out at
the same loop iteration as with its own timer (the one exception: a deadline within the clock's resolution of
an earlier one fires one iteration later).
"""

from __future__ import annotations

import asyncio
import math


class Deadlines:
    """The deadlines of one pool's waits. The timer runs on the loop of the first wait; a wait on another loop (a
    pool carried over to a new loop) gets a timer of its own, as every wait did before."""

    __slots__ = ("_at", "_handle", "_loop", "_waits")

    def __init__(self) -> None:
        self._waits: dict[asyncio.Future[None], float] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._at = math.inf  # when the timer fires (inf: no timer)
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(
        self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[None], timeout: float
    ) -> asyncio.TimerHandle | None:
        """`waiter` fails with TimeoutError `timeout` seconds from now unless `end` is called before. Returns the
        wait's own timer on a loop other than the pool's (None on the pool's loop): pass it to `end`."""
        if self._loop is None:
            self._loop = loop
        at = loop.time() + timeout
        if loop is not self._loop:
            return loop.call_at(at, _expire, waiter)
        self._waits[waiter] = at
        if at < self._at:
            if self._handle is not None:
                self._handle.cancel()
            self._at = at
            self._handle = loop.call_at(at, self._fire)
        return None

    def end(self, waiter: asyncio.Future[None], own: asyncio.TimerHandle | None) -> None:
        """The wait is over (answered, timed out or cancelled)."""
        if own is None:
            self._waits.pop(waiter, None)
        else:
            own.cancel()

    def _fire(self) -> None:
        loop = self._loop
        assert loop is not None
        due = max(self._at, loop.time())
        self._handle, self._at = None, math.inf
        nearest = math.inf
        expired = []
        for waiter, at in self._waits.items():
            if at <= due:
                expired.append(waiter)
            elif at < nearest:
                nearest = at
        for waiter in expired:
            del self._waits[waiter]
            _expire(waiter)
        if nearest < math.inf:
            self._at = nearest
            self._handle = loop.call_at(nearest, self._fire)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
