"""The one SQL schema, shared by SQLite and PostgreSQL (SQLAlchemy Core). Migrations create it; queries use it.

Times are integer milliseconds since the epoch (portable, index-friendly, no timezone ambiguity).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("credits_enabled", Boolean, nullable=False, default=False),
    Column("limits", Text, nullable=True),  # JSON list of LimitRule dicts
    Column("updated_at", BigInteger, nullable=False),
)

gateway_keys = Table(
    "gateway_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_id", String(36), nullable=False, index=True),
    Column("name", String(200), nullable=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Column("allowed_models", Text, nullable=True),  # JSON list of model strings; NULL: every model
    Column("limits", Text, nullable=True),  # JSON list of LimitRule dicts
)

# The request log. A request id is unique within its organisation only (callers choose ids with
# Helicone-Request-Id, and one organisation's choice must never touch another's rows): the key is (id, org_id),
# id first because every lookup names both and the writer's duplicate check looks up ids across a batch.
requests = Table(
    "requests",
    metadata,
    Column("id", String(64), nullable=False),
    Column("org_id", String(36), nullable=False),
    Column("key_id", String(36), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("path", String(200), nullable=False),
    Column("requested_model", Text, nullable=True),
    Column("model", Text, nullable=True),
    Column("provider", String(64), nullable=True),
    Column("status", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("stream", Boolean, nullable=False, default=False),
    Column("cache_hit", Boolean, nullable=False, default=False),
    Column("latency_ms", Float, nullable=True),
    Column("ttft_ms", Float, nullable=True),
    Column("overhead_ms", Float, nullable=True),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("total_tokens", Integer, nullable=True),
    Column("cached_tokens", Integer, nullable=True),
    Column("cache_write_tokens", Integer, nullable=True),
    Column("reasoning_tokens", Integer, nullable=True),
    Column("cost_usd", Float, nullable=True),
    Column("cost_saved_usd", Float, nullable=True),  # a cache hit: what the original call cost
    Column("user_id", Text, nullable=True),
    Column("session_id", Text, nullable=True),
    Column("session_path", Text, nullable=True),
    Column("session_name", Text, nullable=True),
    Column("prompt_id", Text, nullable=True),
    Column("properties", Text, nullable=True),  # JSON object
    Column("request_body", Text, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("attempts", Text, nullable=True),  # JSON list
    # server-made per request (unpredictable); equals `id` unless the caller chose the id. Tells a replayed record
    # (same uid: skip) from another request reusing the id (other uid: stored under its uid, see log_writer.py)
    Column("uid", String(36), nullable=False),
    Column("duplicate_of", String(36), nullable=True),  # the caller's id, when this row had to take its uid
    Column("pinned", Boolean, nullable=True),  # session affinity: sent first to its session's pin (0010)
    PrimaryKeyConstraint("id", "org_id", name="pk_requests"),
    Index("ix_requests_org_created", "org_id", "created_at"),
    Index("ix_requests_org_user", "org_id", "user_id"),
    Index("ix_requests_org_session", "org_id", "session_id"),
)

# Helicone-Property-* values. Names and values are stored whole and indexed through 128-bit hashes
# (`text_hash`): PostgreSQL refuses btree entries over 2,704 bytes, and a long caller-chosen name or value must
# neither make the row unloggable nor be cut (a filter on the full name must find it). Filters compare the hash
# (indexed) and the full text (exact).
request_properties = Table(
    "request_properties",
    metadata,
    Column("request_id", String(64), nullable=False),
    Column("org_id", String(36), nullable=False),
    Column("key_hash", String(32), nullable=False),
    Column("key", Text, nullable=False),  # lowercased, as Helicone treats header names
    Column("value", Text, nullable=False),
    Column("value_hash", String(32), nullable=False),
    PrimaryKeyConstraint("request_id", "org_id", "key_hash", name="pk_request_properties"),
    Index("ix_request_properties_lookup", "org_id", "key_hash", "value_hash"),
)


def text_hash(text: str) -> str:
    """The index hash of a property name or value: SHA-256 of the UTF-8 text, first 128 bits in hex."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


provider_keys = Table(
    "provider_keys",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("id", String(64), primary_key=True),  # unique within the organisation, not globally
    Column("provider", String(64), nullable=False),
    Column("ciphertext", Text, nullable=False),  # AES-GCM, never decrypted by the store
    Column("hint", String(16), nullable=False),
    Column("config", Text, nullable=True),  # JSON object
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Credits: integer nano-dollars (1 USD = 1,000,000,000), so sums are exact on every backend.
credit_accounts = Table(
    "credit_accounts",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("balance", BigInteger, nullable=False),  # grants minus charges
    Column("reserved", BigInteger, nullable=False),  # held by open reservations
    Column("updated_at", BigInteger, nullable=False),
)

credit_reservations = Table(
    "credit_reservations",
    metadata,
    Column("reservation_id", String(64), primary_key=True),
    Column("org_id", String(36), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_credit_reservations_created", "created_at"),
)

credit_ledger = Table(
    "credit_ledger",
    metadata,
    # an integer sequence: it orders the ledger by insertion even within one millisecond
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("org_id", String(36), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # grant | charge | adjust
    Column("amount", BigInteger, nullable=False),  # signed nano-dollars
    Column("request_id", String(64), nullable=True),
    Column("note", Text, nullable=True),
    Index("ix_credit_ledger_org", "org_id", "id"),
)

# One row (id 1) whose counter is bumped in the same transaction as every change to gateway keys, provider
# keys and organisations: the gateway polls it to drop its caches (see SQLStore.keys_revision).
store_revision = Table(
    "store_revision",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("value", BigInteger, nullable=False),
)
# Database triggers (migration 0004) bump it too, on every insert, update and delete of gateway_keys,
# provider_keys and organizations, so a key revoked directly in SQL is dropped from the caches within a second.

# Facts about the store itself, one row per name: the master key's check value (security.verify_master).
store_meta = Table(
    "store_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
