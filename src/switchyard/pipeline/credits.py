"""Credits (pass-through billing): reserve the worst case before a PTB attempt, settle the real cost after.

Only organisations with credits enabled pay for calls made on the gateway's own provider keys (PTB); their own
keys (BYOK) cost them nothing here. Per PTB attempt:
1. reserve `worst_case_usd` (an upper bound of the call's cost, `observe/cost.py`) — one atomic conditional
   update in the store, so concurrent requests can never reserve more than the available balance;
2. on success settle the real cost (the reservation is removed, the cost debited, one ledger row);
3. on failure release the reservation.
Settling and releasing run after the answer, never delaying it; `drain()` waits for them at shutdown. A
reservation orphaned by a crash is released by the store's expiry sweep.

A price the registry does not know cannot be reserved: such PTB attempts fail ("unsupported", the plan moves on),
as Helicone does ("Cost not supported").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from ..observe.cost import worst_case_usd
from ..providers.base import UpstreamError
from ..stores.base import StoreUnavailable
from .plan import Attempt

log = logging.getLogger("switchyard.credits")


@dataclass(frozen=True, slots=True)
class Hold:
    org_id: str
    reservation_id: str
    amount_usd: float


class Credits:
    def __init__(self, store: Any, metrics: Any = None, *, sweep_after_seconds: int = 3600) -> None:
        self._store = store
        self._metrics = metrics
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweep_after_ms = sweep_after_seconds * 1000
        self._sweeper: asyncio.Task[None] | None = None

    @staticmethod
    def applies(ctx: Any, attempt: Attempt) -> bool:
        p = ctx.principal
        return attempt.auth == "ptb" and p is not None and p.org.credits_enabled

    async def reserve(self, ctx: Any, attempt: Attempt, body: dict[str, Any], n: int) -> Hold:
        amount = worst_case_usd(attempt.endpoint, body, len(ctx.raw_body or b""))
        if amount is None:
            raise UpstreamError(400, "unsupported", f"Cost not supported for {attempt.route}: paying with credits "
                                "needs a model with a known price (use your own provider key for it).")
        org_id = ctx.principal.org.id
        # the server-made uid, not the request id: a caller-chosen id may repeat (in another organisation, or
        # on two replicas at once), and a clash here would fail the call as "credit ledger unavailable"
        rid = f"{ctx.helicone.uid or ctx.helicone.request_id}:{n}"
        try:
            ok = await self._store.reserve_credits(org_id, rid, amount)
        except StoreUnavailable:
            raise UpstreamError(503, "credits_unavailable",
                                "The credit ledger is unavailable; calls billed to credits cannot start right now.") from None
        if not ok:
            if self._metrics is not None:
                self._metrics.credits_rejected()
            available = await self._available(org_id)
            shown = f"; available ${available:.6f}" if available is not None else ""
            raise UpstreamError(429, "insufficient_credits",
                                f"Insufficient credits: {attempt.route} may cost up to ${amount:.6f}{shown}. "
                                "Add credits, or route to your own provider key.", code="insufficient_credits")
        return Hold(org_id, rid, amount)

    async def _available(self, org_id: str) -> float | None:
        with contextlib.suppress(Exception):
            return (await self._store.credit_balance(org_id)).available_usd
        return None

    def settle(self, hold: Hold, cost_usd: float | None, request_id: str) -> None:
        # An answer whose usage is unknown is charged nothing rather than a guess (the log shows its cost as null).
        self._spawn(self._store.settle_credits, hold.org_id, hold.reservation_id, cost_usd or 0.0, request_id)

    def release(self, hold: Hold) -> None:
        self._spawn(self._store.release_credits, hold.org_id, hold.reservation_id)

    def _spawn(self, fn: Any, *args: Any) -> None:
        task = asyncio.ensure_future(self._guard(fn, *args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, fn: Any, *args: Any) -> None:
        # A store outage leaves the reservation in place; the expiry sweep releases it later (never a double charge,
        # never a lost hold: settle and release are idempotent on the reservation id).
        for delay in (0.0, 0.2, 1.0, 5.0):
            if delay:
                await asyncio.sleep(delay)
            try:
                await fn(*args)
                return
            except StoreUnavailable as e:
                log.warning("credit settlement deferred: %s", e)
            except Exception:
                log.exception("credit settlement failed")
                return

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="switchyard-credit-sweep")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(60)
            with contextlib.suppress(Exception):
                n = await self._store.expire_reservations(self._sweep_after_ms)  # an age, not a timestamp
                if n:
                    log.warning("released %d credit reservations left by an interrupted process", n)

    async def drain(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
