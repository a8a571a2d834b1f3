"""Request-time order of a plan's attempts: live health and load balancing over the static plan.

The plan (`plan.py`) fixes chain order, BYOK before PTB, then price. Two things only known at request time
refine it, and only *within* one chain item and one auth kind — a caller's `a,b` chain is never reordered, and
an organisation's own keys are never passed over for the gateway's credit-billed ones:
- health: endpoints with recent failures (or half-open) go after healthy ones of the same item, open circuits
  last (the executor then skips them);
- load balancing: several BYOK keys for one endpoint (same rank) take turns as the first choice;
- session affinity (`session_pins.py`): the attempt a session is pinned to goes first within its item and auth
  kind, ahead of price and rotation, while its circuit is not open.
The fast path — one attempt, or everything healthy with no key to rotate and no pin — returns the plan list
itself.
"""

from __future__ import annotations

import itertools
from typing import Any

from .plan import Attempt
from .session_pins import identity

_turn = itertools.count()


def order(attempts: list[Attempt], health: Any | None, pinned: str | None = None) -> list[Attempt]:
    """`pinned`: the session's pin (`session_pins.identity` of an attempt), or None."""
    if len(attempts) < 2:
        return attempts
    rotate = _has_twins(attempts)
    unhealthy = health is not None and health.any_unhealthy
    if not rotate and not unhealthy and pinned is None:
        return attempts
    if pinned is not None and not any(identity(a) == pinned for a in attempts):
        pinned = None  # a pin this plan cannot honour (a key removed, a model no longer allowed)
    # a pinned request takes no turn: the rotation stays even for the traffic that is not pinned
    turn = next(_turn) if rotate and pinned is None else 0
    sizes: dict[tuple[int, str, int], int] = {}
    for a in attempts:
        k = (a.group, a.auth, a.rank)
        sizes[k] = sizes.get(k, 0) + 1
    seen: dict[tuple[int, str, int], int] = {}

    def key(a: Attempt) -> tuple[int, int, int, int, int, int]:
        k = (a.group, a.auth, a.rank)
        n = seen.get(k, 0)
        seen[k] = n + 1
        twin = (n - turn) % sizes[k]  # rotation among keys sharing one endpoint
        score = health.score(a.endpoint_id) if unhealthy and health is not None else 0
        # the pin leads while its circuit is not open (a degraded endpoint keeps its sessions: moving loses the
        # cache for sure, staying only risks a failed attempt, after which the pin moves)
        pin = 0 if pinned is not None and score < 2 and identity(a) == pinned else 1
        return (a.group, 0 if a.auth == "byok" else 1, pin, score, a.rank, twin)

    return sorted(attempts, key=key)  # stable: equal keys keep the plan's order


def _has_twins(attempts: list[Attempt]) -> bool:
    """Two BYOK keys for one endpoint next to each other (same item and rank): they take turns."""
    prev = None
    for a in attempts:
        if a.auth != "byok":
            prev = None
            continue
        k = (a.group, a.rank)
        if k == prev:
            return True
        prev = k
    return False
