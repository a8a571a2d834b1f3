"""Credits (pass-through billing): reserve the worst case before a PTB attempt, settle the real cost after.

Only organisations with credits enabled pay for calls made on the gateway's own provider keys (PTB); their own
keys (BYOK) cost them nothing here. Per PTB attempt:
1. reserve `worst_case_usd` (an upper bound of the call's cost, `observe/cost.py`) — one atomic conditional
   update in the store, so concurrent requests can never reserve more than the available balance;
2. on success settle the real cost (the reservation is removed, the cost debited, one ledger row);
3. on failure release the reservation.
Settling and releasing run after the answer, never delaying it; `drain()` waits for them at shutdown.

Crashes: every reservation and its outcome are first appended to a journal (`credit_journal.py`, one write()
each, no fsync), so a killed process's holds are settled with their recorded cost, or released if the call never
answered, by the next process on the same spool directory (at its start, or within a sweep interval by a
sibling worker). A settlement the store refused (an outage) stays open and is retried every sweep. The store's
expiry sweep (`credits.reservation_ttl_seconds`, default 1 hour) is the last resort, for holds whose journal is
gone with its machine: it releases them, so such a call is never charged. The TTL must exceed the longest call
(`upstream.total_timeout`, also 1 hour by default): a live stream's hold must not expire under it.

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
from .credit_journal import CreditJournal, Entry
from .plan import Attempt

log = logging.getLogger("switchyard.credits")


@dataclass(frozen=True, slots=True)
class Hold:
    org_id: str
    reservation_id: str
    amount_usd: float


class Credits:
    def __init__(
        self,
        store: Any,
        metrics: Any = None,
        *,
        sweep_after_seconds: int = 3600,
        journal: CreditJournal | None = None,
        sweep_interval: float = 60.0,
        retry_delays: tuple[float, ...] = (0.0, 0.2, 1.0, 5.0),
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweep_after_ms = sweep_after_seconds * 1000
        self._sweep_interval = sweep_interval
        self._sweeper: asyncio.Task[None] | None = None
        self._journal = journal
        self._journal_failed = False
        self._retry_delays = retry_delays
        self._busy: set[str] = set()  # reservation ids a settlement task is working on

    @staticmethod
    def applies(ctx: Any, attempt: Attempt) -> bool:
        p = ctx.principal
        return attempt.auth == "ptb" and p is not None and p.org.credits_enabled

    async def reserve(self, ctx: Any, attempt: Attempt, body: dict[str, Any], n: int) -> Hold:
        amount = worst_case_usd(attempt.endpoint, body, len(ctx.raw_body or b""))
        if amount is None:
            raise UpstreamError(
                400,
                "unsupported",
                f"Cost not supported for {attempt.route}: paying with credits "
                "needs a model with a known price (use your own provider key for it).",
            )
        org_id = ctx.principal.org.id
        # the server-made uid, not the request id: a caller-chosen id may repeat (in another organisation, or
        # on two replicas at once), and a clash here would fail the call as "credit ledger unavailable"
        rid = f"{ctx.helicone.uid or ctx.helicone.request_id}:{n}"
        try:
            ok = await self._store.reserve_credits(org_id, rid, amount)
        except StoreUnavailable:
            raise UpstreamError(
                503,
                "credits_unavailable",
                "The credit ledger is unavailable; calls billed to credits cannot start right now.",
            ) from None
        if not ok:
            if self._metrics is not None:
                self._metrics.credits_rejected()
            available = await self._available(org_id)
            shown = f"; available ${available:.6f}" if available is not None else ""
            raise UpstreamError(
                429,
                "insufficient_credits",
                f"Insufficient credits: {attempt.route} may cost up to ${amount:.6f}{shown}. "
                "Add credits, or route to your own provider key.",
                code="insufficient_credits",
            )
        self._note({"op": "reserve", "org": org_id, "rid": rid})
        return Hold(org_id, rid, amount)

    def _note(self, entry: Entry) -> None:
        if self._journal is None:
            return
        try:
            self._journal.record(entry)
        except OSError as e:
            if not self._journal_failed:
                self._journal_failed = True
                log.error(
                    "cannot write the credit journal (%s): a crash now leaves holds to the expiry sweep", e
                )
        else:
            self._journal_failed = False

    async def _available(self, org_id: str) -> float | None:
        with contextlib.suppress(Exception):
            return (await self._store.credit_balance(org_id)).available_usd
        return None

    def settle(self, hold: Hold, cost_usd: float | None, request_id: str) -> None:
        # An answer whose usage is unknown is charged nothing rather than a guess (the log shows its cost as null).
        entry = {
            "op": "settle",
            "org": hold.org_id,
            "rid": hold.reservation_id,
            "cost": cost_usd or 0.0,
            "req": request_id,
        }
        self._note(entry)
        self._spawn(entry)

    def release(self, hold: Hold) -> None:
        entry = {"op": "release", "org": hold.org_id, "rid": hold.reservation_id}
        self._note(entry)
        self._spawn(entry)

    def _spawn(self, entry: Entry) -> None:
        task = asyncio.ensure_future(self._guard(entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply(self, entry: Entry) -> None:
        """Settle or release one hold (a journal's "reserve" without an outcome is released)."""
        if entry["op"] == "settle":
            await self._store.settle_credits(
                entry["org"], entry["rid"], float(entry.get("cost") or 0.0), entry.get("req")
            )
        else:
            await self._store.release_credits(entry["org"], entry["rid"])

    async def _guard(self, entry: Entry, delays: tuple[float, ...] | None = None) -> bool:
        # A store outage leaves the reservation in place and the entry open in the journal: the sweep retries it
        # (never a double charge: settle and release are idempotent on the reservation id).
        self._busy.add(entry["rid"])
        try:
            return await self._retry(entry, self._retry_delays if delays is None else delays)
        finally:
            self._busy.discard(entry["rid"])

    async def _retry(self, entry: Entry, delays: tuple[float, ...]) -> bool:
        for delay in delays:
            if delay:
                await asyncio.sleep(delay)
            try:
                await self._apply(entry)
            except StoreUnavailable as e:
                log.warning("credit settlement deferred: %s", e)
                continue
            except Exception:
                log.exception("credit settlement failed")
                return False
            if self._journal is not None:
                self._journal.applied(entry["rid"])
            return True
        return False

    async def start(self) -> None:
        with contextlib.suppress(Exception):
            await self.recover()
        self._sweeper = asyncio.create_task(self._sweep(), name="switchyard-credit-sweep")

    async def recover(self) -> int:
        """Retry this process's open settlements and finish the journals of dead processes. Returns how many holds
        of dead processes were finished."""
        if self._journal is None:
            return 0
        for entry in [
            e for e in self._journal.open.values() if e["op"] != "reserve" and e["rid"] not in self._busy
        ]:
            await self._guard(entry, (0.0,))
        done = 0
        for path, entries in self._journal.orphans():
            results = [await self._guard(e, (0.0,)) for e in entries]
            if all(results):
                path.unlink(missing_ok=True)
                done += len(entries)
                if entries:
                    log.warning(
                        "finished %d credit holds left by a process that died (%s)", len(entries), path.name
                    )
        return done

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            with contextlib.suppress(Exception):
                await (
                    self.recover()
                )  # before the expiry: a dead process's answered calls are charged, not released
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
        if self._journal is not None:
            with contextlib.suppress(Exception):
                await self.recover()
            self._journal.close()
