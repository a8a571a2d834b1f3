"""Alert rules: evaluated in the background, one replica at a time, notifications through the webhook queue.

Every `interval` seconds (10 by default, at most 15) each process tries to take the `alerts` lease in the
database (`leases` table; renewed each round, expires after three rounds): only its holder evaluates, so N
replicas or workers send one notification, not N. Values come from the dashboard's minute rollups
(`rollups`, written by the log writer), never from a scan of the log:

- `cost_usd`: spend in the last `window_minutes`;
- `error_rate`: errors / requests in the window (0 with no requests);
- `latency_p95_ms`: 95th percentile of latency from the rollups' histogram (bins of ±9 %; 0 with no requests);
- `budget_used_pct`: the highest share, in percent, of the organisation's own USD budgets (`per: org` limit
  rules) spent in each budget's own window (the rule's `window_minutes` is not used); no budget: never trips.

A rule trips when the value exceeds the threshold and clears when it is back at or below it; each change is
stored together with its notification (one transaction), which the webhook sender POSTs as JSON
(`webhook_messages.alert_event`: `type` alert.triggered / alert.resolved, `text` for Slack incoming webhooks,
`data` naming the rule) with the same retries as webhooks.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import orjson

from .. import background
from ..stores.base import StoreUnavailable
from ..stores.rollups import MINUTE_KEEP_MS, bin_value
from ..stores.sql_webhooks import AlertRule, WebhookStore
from . import webhook_messages as wm

log = logging.getLogger("switchyard.alerts")

METRICS = ("cost_usd", "error_rate", "latency_p95_ms", "budget_used_pct")
LEASE = "alerts"


def p95(bins: list[tuple[int, int]]) -> float:
    total = sum(c for _, c in bins)
    if not total:
        return 0.0
    seen = 0
    for b, c in sorted(bins):
        seen += c
        if seen >= 0.95 * total:
            return round(bin_value(b), 3)
    return round(bin_value(max(b for b, _ in bins)), 3)


class Alerts:
    def __init__(
        self, store: WebhookStore, orgs: Any, *, interval: float = 10.0, on_queued: Any = None
    ) -> None:
        self.store = store
        self._orgs = orgs  # SQLStore: get_org for budget rules
        self.interval = interval
        self._on_queued = on_queued
        self.holder = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0  # rounds this process evaluated (held the lease)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="switchyard-alerts")

    async def close(self) -> None:
        await background.stop(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.round()
            except StoreUnavailable as e:
                log.warning("alerts: store unavailable (%s); next round in %.0fs", e, self.interval)
            except Exception:
                log.exception("alerts: evaluation round failed; next round in %.0fs", self.interval)

    async def round(self, now_ms: int | None = None) -> int:
        """Evaluate every rule if this process holds the lease. Returns the number of state changes."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        ttl = int(max(3 * self.interval, 5.0) * 1000)
        if not await self.store.lease(LEASE, self.holder, now, ttl):
            return 0
        self.rounds += 1
        changes = 0
        for rule in await self.store.list_rules():
            value = await self.value(rule, now)
            changes += await self._apply(rule, value, now)
        if changes and self._on_queued is not None:
            self._on_queued()
        return changes

    async def _apply(self, rule: AlertRule, value: float | None, now: int) -> int:
        firing = value is not None and value > rule.threshold
        state = "firing" if firing else "ok"
        if state == rule.state:
            await self.store.rule_evaluated(rule.id, value, now)
            return 0
        event = wm.alert_event(rule, state, value, now)
        note = {
            "id": "msg_" + uuid.uuid4().hex,
            "org_id": rule.org_id,
            "webhook_id": None,
            "alert_id": rule.id,
            "url": rule.webhook_url,
            "request_id": None,
            "payload": orjson.dumps(event).decode(),
            "status": "pending",
            "attempts": 0,
            "next_at": now,
            "last_status": None,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }
        await self.store.rule_evaluated(rule.id, value, now, state=state, notification=note)
        log.warning("%s", event["text"])
        return 1

    async def value(self, rule: AlertRule, now: int) -> float | None:
        since = now - rule.window_minutes * 60_000
        since -= since % 60_000
        if rule.metric == "cost_usd":
            return (await self.store.window_totals(rule.org_id, since))[2] / 1e9
        if rule.metric == "error_rate":
            requests, errors, _ = await self.store.window_totals(rule.org_id, since)
            return errors / requests if requests else 0.0
        if rule.metric == "latency_p95_ms":
            return p95(await self.store.latency_bins(rule.org_id, since))
        if rule.metric == "budget_used_pct":
            return await self._budget_used(rule.org_id, now)
        return None

    async def _budget_used(self, org_id: str, now: int) -> float | None:
        org = await self._orgs.get_org(org_id)
        budgets = [
            r for r in (org.limits if org else ()) if r.metric == "usd" and r.per == "org" and r.limit > 0
        ]
        used = None
        for b in budgets:
            since = now - b.window_seconds * 1000
            grain = "m" if b.window_seconds * 1000 <= MINUTE_KEEP_MS else "h"
            width = 60_000 if grain == "m" else 3_600_000
            cost = (await self.store.window_totals(org_id, since - since % width, grain))[2] / 1e9
            pct = 100.0 * cost / b.limit
            used = pct if used is None else max(used, pct)
        return used
