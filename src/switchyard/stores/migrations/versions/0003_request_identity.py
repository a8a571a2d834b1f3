"""The request log is keyed by (id, org_id), not by id alone; property names and values are stored whole.

* `requests`: primary key (id, org_id) — a caller-chosen Helicone-Request-Id can no longer collide with another
  organisation's row; new columns `uid` (server-made per request; existing rows get their id) and
  `duplicate_of` (the caller's id when a later request reusing it had to be stored under its uid).
* `request_properties`: primary key (request_id, org_id, key_hash); `key` becomes Text (names were cut to 200
  characters before; those already cut stay cut); names and values indexed through 128-bit hashes (PostgreSQL
  refuses btree entries over 2,704 bytes, which made rows with long property values unloggable).

Both tables are rebuilt (create, copy, drop, rename) the same way on SQLite and PostgreSQL. The request rows are
copied by one INSERT ... SELECT in the database; property rows pass through Python for their hashes (SQLite has
no SHA-256), 5,000 at a time.

Revision ID: 0003
Revises: 0002
"""

import hashlib
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

_BATCH = 5000

_REQUEST_COLUMNS: list[tuple[str, Any]] = [  # 0001 + 0002, in their order
    ("id", sa.String(64)),
    ("org_id", sa.String(36)),
    ("key_id", sa.String(36)),
    ("created_at", sa.BigInteger),
    ("path", sa.String(200)),
    ("requested_model", sa.Text),
    ("model", sa.Text),
    ("provider", sa.String(64)),
    ("status", sa.Integer),
    ("error", sa.Text),
    ("stream", sa.Boolean),
    ("cache_hit", sa.Boolean),
    ("latency_ms", sa.Float),
    ("ttft_ms", sa.Float),
    ("overhead_ms", sa.Float),
    ("prompt_tokens", sa.Integer),
    ("completion_tokens", sa.Integer),
    ("total_tokens", sa.Integer),
    ("cached_tokens", sa.Integer),
    ("cache_write_tokens", sa.Integer),
    ("reasoning_tokens", sa.Integer),
    ("cost_usd", sa.Float),
    ("user_id", sa.Text),
    ("session_id", sa.Text),
    ("session_path", sa.Text),
    ("session_name", sa.Text),
    ("prompt_id", sa.Text),
    ("properties", sa.Text),
    ("request_body", sa.Text),
    ("response_body", sa.Text),
    ("attempts", sa.Text),
    ("cost_saved_usd", sa.Float),
]
_NOT_NULL = {"id", "org_id", "created_at", "path", "status", "stream", "cache_hit"}


def _hash(
    text: str,
) -> str:  # = stores.schema.text_hash (frozen here: rows written by this migration keep it)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _clean(text: str) -> str:  # = stores.log_writer.clean_text
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _requests() -> None:
    op.create_table(
        "requests_v3",
        *(sa.Column(name, type_, nullable=name not in _NOT_NULL) for name, type_ in _REQUEST_COLUMNS),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("duplicate_of", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", "org_id", name="pk_requests"),
    )
    names = ", ".join(name for name, _ in _REQUEST_COLUMNS)
    op.execute(f"INSERT INTO requests_v3 ({names}, uid) SELECT {names}, id FROM requests")
    op.drop_table("requests")  # and its indexes, whose names the new table takes
    op.rename_table("requests_v3", "requests")
    op.create_index("ix_requests_org_created", "requests", ["org_id", "created_at"])
    op.create_index("ix_requests_org_user", "requests", ["org_id", "user_id"])
    op.create_index("ix_requests_org_session", "requests", ["org_id", "session_id"])


def _properties() -> None:
    new = op.create_table(
        "request_properties_v3",
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("key_hash", sa.String(32), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("value_hash", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "org_id", "key_hash", name="pk_request_properties"),
    )
    old = sa.table(
        "request_properties",
        sa.column("request_id"),
        sa.column("key"),
        sa.column("org_id"),
        sa.column("value"),
    )
    conn = op.get_bind()
    after: tuple[str, str] | None = None
    while True:  # keyset pages over the old primary key (request_id, key)
        q = sa.select(old.c.request_id, old.c.key, old.c.org_id, old.c.value)
        if after is not None:
            q = q.where(
                sa.tuple_(old.c.request_id, old.c.key) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
            )
        rows = conn.execute(q.order_by(old.c.request_id, old.c.key).limit(_BATCH)).all()
        if not rows:
            break
        batch = {}
        for request_id, key, org_id, value in rows:
            key, value = _clean(key), _clean(value)
            batch[(request_id, org_id, _hash(key))] = {
                "request_id": request_id,
                "org_id": org_id,
                "key_hash": _hash(key),
                "key": key,
                "value": value,
                "value_hash": _hash(value),
            }
        op.bulk_insert(new, list(batch.values()))
        after = (rows[-1][0], rows[-1][1])
    op.drop_table("request_properties")
    op.rename_table("request_properties_v3", "request_properties")
    op.create_index(
        "ix_request_properties_lookup", "request_properties", ["org_id", "key_hash", "value_hash"]
    )


def upgrade() -> None:
    _requests()
    _properties()


def downgrade() -> None:
    raise NotImplementedError("0003 cannot be undone: request ids may now repeat across organisations")
