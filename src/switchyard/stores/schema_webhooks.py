"""Webhook, delivery-queue, alert-rule and lease tables (migration 0007), on the one `schema.metadata`.

`webhook_deliveries` is the durable queue: a row per message (a request for one webhook, or an alert
notification), its `id` being the Standard Webhooks `webhook-id` (the same on every retry). `next_at` is when it
is due; a sender claims a row by moving `next_at` forward (compare-and-set), so replicas never send a row twice
at once. `leases` elect the one replica that evaluates alert rules.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table, Text

from .schema import metadata

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_id", String(36), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),  # AES-GCM ciphertext (security.Secrets), like provider keys
    Column("sample_rate", Float, nullable=False),
    Column(
        "property_filter", Text, nullable=True
    ),  # JSON object: every key must match the request's property
    Column("include_bodies", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_webhooks_org", "org_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(64), primary_key=True),  # the webhook-id header: msg_<...>
    Column("org_id", String(36), nullable=False),
    Column("webhook_id", String(36), nullable=True),  # null for an alert notification
    Column("alert_id", String(36), nullable=True),
    Column("url", Text, nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_at", BigInteger, nullable=False),
    Column("last_status", Integer, nullable=True),  # the receiver's HTTP status on the last attempt
    Column("last_error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_webhook_deliveries_due", "status", "next_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"),
)

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("window_minutes", Integer, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("webhook_url", Text, nullable=False),
    Column("state", String(8), nullable=False),  # ok | firing
    Column("last_value", Float, nullable=True),
    Column("evaluated_at", BigInteger, nullable=True),
    Column("changed_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_alert_rules_org", "org_id"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
