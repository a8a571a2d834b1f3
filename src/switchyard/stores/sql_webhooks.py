"""Webhooks, the delivery queue, alert rules, leases, and the rollup sums alerts read. Over `SQLStore`'s engine.

Kept out of `SQLStore` (one object per concern): `WebhookStore(store)` shares the store's engine and dialect.
Secrets arrive encrypted (callers seal them with `security.Secrets`); the store never sees one in plain text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, update

from .schema_dashboard import rollups
from .schema_webhooks import alert_rules, leases, webhook_deliveries, webhooks
from .sql_errors import unavailable_on_db_error


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    org_id: str
    url: str
    secret: str  # ciphertext
    sample_rate: float
    property_filter: dict[str, str]
    include_bodies: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class AlertRule:
    id: str
    org_id: str
    name: str
    metric: str
    window_minutes: int
    threshold: float
    webhook_url: str
    state: str
    last_value: float | None
    evaluated_at: int | None
    changed_at: int | None
    created_at: int


def _webhook(r: Any) -> Webhook:
    return Webhook(
        r.id,
        r.org_id,
        r.url,
        r.secret,
        r.sample_rate,
        orjson.loads(r.property_filter) if r.property_filter else {},
        bool(r.include_bodies),
        r.created_at,
    )


def _rule(r: Any) -> AlertRule:
    return AlertRule(
        r.id,
        r.org_id,
        r.name,
        r.metric,
        r.window_minutes,
        r.threshold,
        r.webhook_url,
        r.state,
        r.last_value,
        r.evaluated_at,
        r.changed_at,
        r.created_at,
    )


class WebhookStore:
    def __init__(self, store: Any) -> None:
        self.engine = store.engine
        self._insert = store._insert  # dialect insert (ON CONFLICT DO NOTHING)

    # -- webhooks ------------------------------------------------------------------------------------------

    async def create_webhook(
        self,
        org_id: str,
        url: str,
        secret_ciphertext: str,
        sample_rate: float,
        property_filter: dict[str, str],
        include_bodies: bool,
        now: int,
    ) -> Webhook:
        hook = Webhook(
            str(uuid.uuid4()),
            org_id,
            url,
            secret_ciphertext,
            sample_rate,
            dict(property_filter),
            include_bodies,
            now,
        )
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(webhooks).values(
                        id=hook.id,
                        org_id=org_id,
                        url=url,
                        secret=secret_ciphertext,
                        sample_rate=sample_rate,
                        property_filter=orjson.dumps(property_filter).decode() if property_filter else None,
                        include_bodies=int(include_bodies),
                        created_at=now,
                    )
                )
        return hook

    async def list_webhooks(self, org_id: str | None = None) -> list[Webhook]:
        q = select(webhooks).order_by(webhooks.c.created_at)
        if org_id is not None:
            q = q.where(webhooks.c.org_id == org_id)
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                return [_webhook(r) for r in (await conn.execute(q)).all()]

    async def get_webhook(self, webhook_id: str) -> Webhook | None:
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                r = (await conn.execute(select(webhooks).where(webhooks.c.id == webhook_id))).first()
        return _webhook(r) if r else None

    async def delete_webhook(self, org_id: str, webhook_id: str) -> bool:
        """Removes the webhook; its pending deliveries stop (they are marked failed, kept for the record)."""
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                n = (
                    await conn.execute(
                        delete(webhooks).where((webhooks.c.org_id == org_id) & (webhooks.c.id == webhook_id))
                    )
                ).rowcount
                if n:
                    await conn.execute(
                        update(webhook_deliveries)
                        .where(
                            (webhook_deliveries.c.webhook_id == webhook_id)
                            & (webhook_deliveries.c.status == "pending")
                        )
                        .values(status="failed", last_error="webhook deleted")
                    )
        return bool(n)

    # -- the delivery queue --------------------------------------------------------------------------------

    async def enqueue(self, rows: list[dict[str, Any]]) -> None:
        """Insert deliveries; a row whose id is already queued (a replayed log batch) is left as it is."""
        if not rows:
            return
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                await conn.execute(
                    self._insert(webhook_deliveries).on_conflict_do_nothing(index_elements=["id"]), rows
                )

    async def due(self, now: int, limit: int) -> list[Any]:
        q = (
            select(webhook_deliveries)
            .where((webhook_deliveries.c.status == "pending") & (webhook_deliveries.c.next_at <= now))
            .order_by(webhook_deliveries.c.next_at)
            .limit(limit)
        )
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                return list((await conn.execute(q)).all())

    async def claim(self, delivery_id: str, seen_next_at: int, lease_until: int) -> bool:
        """Compare-and-set on `next_at`: True for the one process that moved it (and now sends the delivery)."""
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                n = (
                    await conn.execute(
                        update(webhook_deliveries)
                        .where(
                            (webhook_deliveries.c.id == delivery_id)
                            & (webhook_deliveries.c.status == "pending")
                            & (webhook_deliveries.c.next_at == seen_next_at)
                        )
                        .values(next_at=lease_until)
                    )
                ).rowcount
        return n == 1

    async def finish(
        self,
        delivery_id: str,
        *,
        status: str,
        attempts: int,
        next_at: int,
        last_status: int | None,
        last_error: str | None,
        now: int,
    ) -> None:
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(webhook_deliveries)
                    .where(webhook_deliveries.c.id == delivery_id)
                    .values(
                        status=status,
                        attempts=attempts,
                        next_at=next_at,
                        last_status=last_status,
                        last_error=last_error,
                        updated_at=now,
                    )
                )

    async def deliveries(self, webhook_id: str, limit: int, offset: int) -> list[Any]:
        q = (
            select(webhook_deliveries)
            .where(webhook_deliveries.c.webhook_id == webhook_id)
            .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id)
            .limit(limit)
            .offset(offset)
        )
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                return list((await conn.execute(q)).all())

    # -- alert rules ---------------------------------------------------------------------------------------

    async def create_rule(
        self,
        org_id: str,
        name: str,
        metric: str,
        window_minutes: int,
        threshold: float,
        webhook_url: str,
        now: int,
    ) -> AlertRule:
        rule = AlertRule(
            str(uuid.uuid4()),
            org_id,
            name,
            metric,
            window_minutes,
            threshold,
            webhook_url,
            "ok",
            None,
            None,
            None,
            now,
        )
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(alert_rules).values(
                        id=rule.id,
                        org_id=org_id,
                        name=name,
                        metric=metric,
                        window_minutes=window_minutes,
                        threshold=threshold,
                        webhook_url=webhook_url,
                        state="ok",
                        created_at=now,
                    )
                )
        return rule

    async def list_rules(self, org_id: str | None = None) -> list[AlertRule]:
        q = select(alert_rules).order_by(alert_rules.c.created_at)
        if org_id is not None:
            q = q.where(alert_rules.c.org_id == org_id)
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                return [_rule(r) for r in (await conn.execute(q)).all()]

    async def delete_rule(self, org_id: str, rule_id: str) -> bool:
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                n = (
                    await conn.execute(
                        delete(alert_rules).where(
                            (alert_rules.c.org_id == org_id) & (alert_rules.c.id == rule_id)
                        )
                    )
                ).rowcount
        return bool(n)

    async def rule_evaluated(
        self,
        rule_id: str,
        value: float | None,
        now: int,
        *,
        state: str | None = None,
        notification: dict[str, Any] | None = None,
    ) -> None:
        """Store a rule's latest value; with `state`, its new state and the notification to send (one
        transaction: a trip is never recorded without its message queued, nor queued twice)."""
        values: dict[str, Any] = {"last_value": value, "evaluated_at": now}
        if state is not None:
            values.update(state=state, changed_at=now)
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                await conn.execute(update(alert_rules).where(alert_rules.c.id == rule_id).values(**values))
                if notification is not None:
                    await conn.execute(insert(webhook_deliveries).values(**notification))

    # -- leases --------------------------------------------------------------------------------------------

    async def lease(self, name: str, holder: str, now: int, ttl_ms: int) -> bool:
        """Take or renew the lease `name` for `holder` until now + ttl; False while another holder has it."""
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                got = (
                    await conn.execute(
                        self._insert(leases)
                        .values(name=name, holder=holder, expires_at=now + ttl_ms)
                        .on_conflict_do_nothing(index_elements=["name"])
                    )
                ).rowcount
                if got == 1:
                    return True
                n = (
                    await conn.execute(
                        update(leases)
                        .where(
                            (leases.c.name == name)
                            & ((leases.c.holder == holder) | (leases.c.expires_at < now))
                        )
                        .values(holder=holder, expires_at=now + ttl_ms)
                    )
                ).rowcount
        return n == 1

    # -- what alerts read (the dashboard's minute rollups, never the log) ---------------------------------

    async def window_totals(self, org_id: str, since_ms: int, grain: str = "m") -> tuple[int, int, int]:
        """(requests, errors, cost in nano-dollars) of the organisation's buckets (minute `m`, hour `h`) from
        `since_ms` on."""
        r = rollups.c
        q = select(
            func.coalesce(func.sum(r.requests), 0),
            func.coalesce(func.sum(r.errors), 0),
            func.coalesce(func.sum(r.cost_nano), 0),
        ).where((r.org_id == org_id) & (r.grain == grain) & (r.dim == "total") & (r.bucket >= since_ms))
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                row = (await conn.execute(q)).one()
        return int(row[0]), int(row[1]), int(row[2])

    async def latency_bins(self, org_id: str, since_ms: int) -> list[tuple[int, int]]:
        r = rollups.c
        q = (
            select(r.name, func.sum(r.requests))
            .where((r.org_id == org_id) & (r.grain == "m") & (r.dim == "lat") & (r.bucket >= since_ms))
            .group_by(r.name)
        )
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                return [(int(n), int(c)) for n, c in (await conn.execute(q)).all() if int(c) > 0]
