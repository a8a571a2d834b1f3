"""Usage per Stripe customer sent to Stripe as meter events, in the background, one replica at a time.

Time is cut into periods of `interval_seconds` aligned to the epoch. Every `poll_seconds` each process tries to
take the `stripe-meter` lease (the `leases` table the alert evaluator uses); its holder sends every closed period
after the cursor — a period is closed `settle_seconds` after its end, so log rows still in a writer's queue land
first — with one event per organisation, customer and meter kind (`billing.stripe.meters`), then moves the cursor.

Only the organisations listed in `billing.stripe.orgs` (names or ids) are metered: the customer is whatever the
caller's `Helicone-Stripe-Customer-Id` says, so an organisation not trusted with the operator's Stripe account must
not reach it (docs/security.md §9, S6). An empty list sends nothing (one warning at start). A name that matches no
organisation is warned about once per process and looked up again each round, so an organisation created later is
metered from the next period sent; one that exists keeps its id for the process's life (ids and names never change).

Why a lease plus idempotent identifiers, not one of them: the lease keeps N replicas from all sending the same
events (one HTTP call per event instead of N; the holder renews it while it sends, every third of its length); the identifiers make the rare overlap harmless — a holder that
stalls past its lease, or a crash between Stripe's answer and our ledger write. Each identifier is a hash of
(organisation, customer, period, event name); Stripe refuses a repeated one and the client counts that as
delivered. Every settled event is kept in `meter_events` and the cursor moves by compare-and-set, so a restart
resends nothing, even after Stripe's 24-hour uniqueness window. An advisory lock was not chosen: SQLite has none,
and holding a database connection across HTTP calls to Stripe is worse than a lease row.

Failures: the stripe client retries one request itself (`max_network_retries`, on 409/5xx/network errors); when
that is not enough (429 included), the round stops without moving the cursor and the next one starts after an
exponential backoff (1 s doubling up to `retry_max_seconds`). A request never waits on any of this.

The first period sent is the one in which metering was first switched on (earlier usage is not back-filled).
Periods older than 35 days (Stripe refuses such timestamps; a gateway down that long) are skipped in one cursor
move with one warning. A round sends at most `MAX_PERIODS_PER_ROUND` periods; with more left, the next round
starts at once instead of after `poll_seconds`, so a backlog is caught up at Stripe's pace. Rows that land after their
period was sent (a spool replayed after a long database outage) are not billed: raise `settle_seconds` if that
matters more than promptness.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from typing import Any

from .. import background
from ..stores.base import StoreUnavailable
from ..stores.sql_meter import MeterLedger, Settled
from ..stores.usage_report import usage_by_org_and_customer
from .stripe_client import MeterEvent, Retry, StripeMeterClient

log = logging.getLogger("switchyard.stripe_meter")

LEASE = "stripe-meter"
CURSOR = "stripe"
MAX_AGE_MS = 35 * 86_400_000 - 3_600_000  # Stripe accepts timestamps up to 35 days old; an hour of margin
MAX_PERIODS_PER_ROUND = 48


def identifier(org_id: str, customer: str, start_ms: int, end_ms: int, event_name: str) -> str:
    """Stable for one (organisation, customer, period, event name): what makes a resend a no-op at Stripe."""
    h = hashlib.sha256(f"{org_id}\0{customer}\0{start_ms}\0{end_ms}\0{event_name}".encode()).hexdigest()
    return f"sy_{start_ms // 1000}_{h[:40]}"


def value_of(kind: str, row: dict[str, Any]) -> int:
    if kind == "requests":
        return int(row["requests"])
    if kind == "prompt_tokens":
        return int(row["prompt_tokens"])
    if kind == "completion_tokens":
        return int(row["completion_tokens"])
    if kind == "total_tokens":
        return int(row["prompt_tokens"]) + int(row["completion_tokens"])
    if kind == "cost_micro_usd":
        return round(float(row["cost_usd"]) * 1_000_000)
    raise ValueError(f"unknown meter kind {kind!r}")


def events_for(usage: list[dict[str, Any]], meters: dict[str, str], start: int, end: int) -> list[MeterEvent]:
    """One event per row and meter; zero values are not sent."""
    out = []
    for row in usage:
        for kind, name in meters.items():
            v = value_of(kind, row)
            if v > 0:
                ident = identifier(row["org_id"], row["customer"], start, end, name)
                out.append(MeterEvent(ident, name, row["customer"], v, start // 1000, row["org_id"], start))
    return out


class StripeMeter:
    def __init__(self, store: Any, lease: Any, client: Any, settings: Any) -> None:
        self.store = store
        self.ledger = MeterLedger(store)
        self._lease = lease  # async (name, holder, now_ms, ttl_ms) -> bool: WebhookStore.lease
        self.client = client  # StripeMeterClient (or anything with `send` and `scrub`)
        self.meters = dict(settings.meters)
        self.orgs = list(settings.orgs)  # names or ids, as configured
        self._org_ids: dict[str, str] = {}  # configured name or id -> organisation id, once found
        self._unknown: set[str] = set()  # configured names already warned about
        self.interval_ms = settings.interval_seconds * 1000
        self.settle_ms = int(settings.settle_seconds * 1000)
        self.poll = settings.poll_seconds
        self.retry_max = settings.retry_max_seconds
        self.holder = uuid.uuid4().hex
        self.failures = 0  # consecutive failed rounds
        self.not_before = 0.0  # monotonic time before which no round starts (backoff)
        self.behind = False  # the last round stopped at MAX_PERIODS_PER_ROUND with closed periods left
        self.lease_ms: int | None = None  # the lease's length; None: 3 × poll_seconds, at least a minute
        self._since: tuple[int, float] = (0, 0.0)  # (the round's now in ms, monotonic then): lease timestamps
        self._renewed = 0.0  # monotonic time of the last lease renewal
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def build(cls, store: Any, lease: Any, settings: Any) -> StripeMeter | None:
        """None unless `billing.stripe.secret_key` is set and `billing.stripe.orgs` lists an organisation."""
        s = settings.billing.stripe
        if not s.secret_key:
            return None
        if not s.orgs:
            log.warning(
                "stripe meter: billing.stripe.secret_key is set but billing.stripe.orgs is empty: no usage is sent"
                " to Stripe (list the organisations to meter)"
            )
            return None
        client = StripeMeterClient(
            s.secret_key,
            api_base=s.api_base,
            customer_key=s.customer_payload_key,
            value_key=s.value_payload_key,
            max_network_retries=s.max_network_retries,
            timeout=s.timeout_seconds,
        )
        return cls(store, lease, client, s)

    async def start(self) -> None:
        try:  # names that match no organisation are warned about now; a store that is down: the first round
            await self.org_ids()
        except Exception as e:
            log.warning("stripe meter: organisations not looked up at start (%s); the first round will", e)
        self._task = asyncio.create_task(self._run(), name="switchyard-stripe-meter")

    async def close(self) -> None:
        await background.stop(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            wait = 0.0 if self.behind else self.poll
            await asyncio.sleep(max(wait, self.not_before - time.monotonic()))
            await self.round()

    async def round(self, now_ms: int | None = None) -> int:
        """Send every closed period after the cursor if this process holds the lease; the number of events that
        reached Stripe. Failures are logged (without the key) and back off; they never raise."""
        if time.monotonic() < self.not_before:
            return 0
        try:
            n = await self._round(int(time.time() * 1000) if now_ms is None else now_ms)
        except Retry as e:
            self._back_off(str(e))
            return 0
        except StoreUnavailable as e:
            self._back_off(f"store unavailable ({e})")
            return 0
        except Exception as e:  # a bug: keep metering alive, say what happened without the key
            self._back_off(self.client.scrub(f"{type(e).__name__}: {e}"))
            return 0
        self.failures = 0
        return n

    def _back_off(self, why: str) -> None:
        self.failures += 1
        delay = min(self.retry_max, 2.0 ** (self.failures - 1))
        self.not_before = time.monotonic() + delay
        log.warning("stripe meter: %s; next try in %.0f s (failure %d)", why, delay, self.failures)

    async def _round(self, now: int) -> int:
        self.behind = False  # set again only when this round ends with closed periods left
        self._since = (now, time.monotonic())
        if not await self._still_mine(force=True):
            return 0
        cursor = await self.ledger.cursor(CURSOR)
        if cursor is None:
            cursor = await self.ledger.start_cursor(CURSOR, now - now % self.interval_ms)
        if cursor < now - MAX_AGE_MS:  # down for over 35 days: Stripe takes none of it; one move, one warning
            oldest = cursor + -(-(now - MAX_AGE_MS - cursor) // self.interval_ms) * self.interval_ms
            log.warning(
                "stripe meter: periods from %d to %d ms are older than Stripe accepts; skipped",
                cursor,
                oldest,
            )
            if not await self.ledger.advance(CURSOR, cursor, oldest):
                return 0  # another process moved it
            cursor = oldest
        orgs = await self.org_ids()
        sent = 0
        for _ in range(MAX_PERIODS_PER_ROUND):
            start, end = cursor, cursor + self.interval_ms
            if end + self.settle_ms > now:
                return sent
            n, whole = await self._period(start, end, orgs)
            sent += n
            if not whole or not await self.ledger.advance(CURSOR, start, end):
                return sent  # another process took the lease or moved the cursor: it goes on from there
            cursor = end
            if not await self._still_mine(force=True):
                return sent
        self.behind = True  # periods left over: the next round starts at once, not after poll_seconds
        return sent

    async def org_ids(self) -> list[str]:
        """The ids of the configured organisations that exist; each name that does not is warned about once."""
        for ref in self.orgs:
            if ref in self._org_ids:
                continue
            org = await self.store.get_org(ref) or await self.store.get_org_by_name(ref)
            if org is not None:
                self._org_ids[ref] = org.id
                if ref in self._unknown:
                    log.info("stripe meter: organisation %r now exists and is metered", ref)
            elif ref not in self._unknown:
                self._unknown.add(ref)
                log.warning(
                    "stripe meter: billing.stripe.orgs names %r, which is no organisation's name or id: nothing is"
                    " sent for it until an organisation of that name exists",
                    ref,
                )
        return sorted(set(self._org_ids.values()))

    async def _still_mine(self, force: bool = False) -> bool:
        """Take or renew the lease (when `force`, or once a third of it has passed since the last renewal): a
        period with many events, or a slow Stripe, must not outlast it, or a second replica sends the same period
        at the same time. False: another process holds it."""
        ttl = self.lease_ms or int(max(3 * self.poll, 60.0) * 1000)
        mono = time.monotonic()
        if not force and (mono - self._renewed) * 1000 < ttl / 3:
            return True
        self._renewed = mono
        now, t0 = self._since
        return bool(await self._lease(LEASE, self.holder, now + int((mono - t0) * 1000), ttl))

    async def _period(self, start: int, end: int, orgs: list[str]) -> tuple[int, bool]:
        """(events that reached Stripe, whether every event of the period is settled)."""
        usage = await usage_by_org_and_customer(self.store, orgs, start, end)
        events = events_for(usage, self.meters, start, end)
        done = await self.ledger.settled_among(e.identifier for e in events)
        sent = 0
        for e in events:
            if e.identifier in done:
                continue
            if not await self._still_mine():
                return sent, False
            status, error = await self.client.send(e)  # Retry propagates: the cursor stays
            if status == "rejected":
                log.warning("stripe meter: event %s refused by Stripe: %s", e.identifier, error)
            await self.ledger.record(
                Settled(e.identifier, e.org_id, e.customer, e.event_name, start, e.value, status, error)
            )
            sent += status == "sent"
        if events:
            log.info("stripe meter: period %d-%d: %d events, %d sent now", start, end, len(events), sent)
        return sent, True
