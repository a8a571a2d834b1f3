"""Stripe meter events (migration 0009), on the one `schema.metadata`.

`meter_cursors` holds, per stream (`stripe`), the end of the last period whose events are all settled; it only
moves forward, by compare-and-set. `meter_events` is the ledger of every event settled with Stripe, keyed by its
idempotency `identifier` (the one Stripe sees), so a restart or a second replica never sends one twice, however
long after Stripe's own 24-hour uniqueness window.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from .schema import metadata

meter_cursors = Table(
    "meter_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("period_end", BigInteger, nullable=False),  # ms since the epoch, exclusive
    Column("updated_at", BigInteger, nullable=False),
)

meter_events = Table(
    "meter_events",
    metadata,
    Column("identifier", String(100), primary_key=True),
    Column("org_id", String(36), nullable=False),
    Column("customer", Text, nullable=False),
    Column("event_name", String(100), nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # sent | duplicate (Stripe had it) | rejected (a 4xx)
    Column("error", String(300), nullable=True),  # Stripe's error code and message when rejected
    Column("settled_at", BigInteger, nullable=False),
    Index("ix_meter_events_period", "period_start"),
)
