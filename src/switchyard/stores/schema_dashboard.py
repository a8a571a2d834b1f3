"""Dashboard tables (migration 0005), on the one `schema.metadata`: feedback, scores, rollups, sessions.

Rollups are what the overview, users and properties pages read instead of the log: one row per organisation,
grain (m = minute, h = hour, d = day), bucket start, dimension and name/value, with sums that the log writer adds
to in the same transaction as the rows themselves (`stores/rollups.py`). Money is integer nano-dollars, as in
the credit tables, so sums are exact on both backends.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, String, Table, Text

from .schema import metadata

request_feedback = Table(
    "request_feedback",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("request_id", String(64), primary_key=True),
    Column("rating", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

request_scores = Table(
    "request_scores",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("request_id", String(64), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("value", Float, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# dim: total | model | provider | status (name "2xx".."5xx") | user | property (name = key, value = value)
#      | lat / ttft (name = histogram bin; only `requests` is counted)
ROLLUP_METRICS = (
    "requests",
    "errors",
    "cache_hits",
    "cost_nano",
    "cost_saved_nano",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "total_tokens",
    "latency_sum",
    "latency_count",
    "ttft_sum",
    "ttft_count",
)
rollups = Table(
    "rollups",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("grain", String(1), primary_key=True),
    Column("dim", String(16), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("value", String(200), primary_key=True),  # '' except for properties
    *(
        Column(m, Float if m in ("latency_sum", "ttft_sum") else BigInteger, nullable=False)
        for m in ROLLUP_METRICS
    ),
    Column("first_at", BigInteger, nullable=False),
    Column("last_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,  # one B-tree per upsert (see migration 0005)
    # and on PostgreSQL fillfactor 80 (migration 0005 creates the table; a `postgresql_with` here would load
    # SQLAlchemy's PostgreSQL dialect in every process, SQLite ones included: stores/dialect_insert.py)
)
DIMS = ("total", "model", "provider", "status", "user", "property", "lat", "ttft")
# Users and property values have many distinct names: they get hour and day buckets, not minute ones (a minute
# row per user per minute would cost the writer about one upsert per request).
WIDE_DIMS = frozenset({"user", "property"})

sessions = Table(
    "sessions",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("session_id", String(200), primary_key=True),
    Column("name", Text, nullable=True),
    Column("user_id", Text, nullable=True),  # the latest request's user
    Column("first_at", BigInteger, nullable=False),
    Column("last_at", BigInteger, nullable=False),
    Column("end_at", BigInteger, nullable=False),  # latest created_at + latency: where the waterfall ends
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("cost_nano", BigInteger, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("total_tokens", BigInteger, nullable=False),
    Column("latency_sum", Float, nullable=False),
    Index("ix_sessions_org_last", "org_id", "last_at"),
    sqlite_with_rowid=False,  # and fillfactor 80 on PostgreSQL, as `rollups` (migration 0005)
)

# Each log-writer batch's folded rollup deltas (orjson of `Fold.compact()`), until the compactor merges them into
# `rollups` and `sessions` (stores/rollup_journal.py).
rollup_journal = Table(
    "rollup_journal",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("created_at", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
)
