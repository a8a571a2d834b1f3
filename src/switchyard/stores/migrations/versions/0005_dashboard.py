"""Dashboard: feedback, scores, rollups and sessions (with the writer's rollup journal), and the request-list
indexes.

The rollups start from whatever is already logged: the upgrade fills them from the existing rows, so a gateway
that upgrades keeps its history on the overview.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

_METRICS = (
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


def _index_names(table: str) -> set[str]:
    return {name for ix in sa.inspect(op.get_bind()).get_indexes(table) if (name := ix["name"])}


def upgrade() -> None:
    op.create_table(
        "request_feedback",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("rating", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "request_scores",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "rollups",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("grain", sa.String(1), primary_key=True),
        sa.Column("dim", sa.String(16), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
        *(
            sa.Column(m, sa.Float if m in ("latency_sum", "ttft_sum") else sa.BigInteger, nullable=False)
            for m in _METRICS
        ),
        sa.Column("first_at", sa.BigInteger, nullable=False),
        sa.Column("last_at", sa.BigInteger, nullable=False),
        # one B-tree per upsert: no rowid table beside the key on SQLite, room for in-place (HOT) updates on
        # PostgreSQL; no secondary index (retention deletes by key prefix)
        sqlite_with_rowid=False,
        postgresql_with={"fillfactor": 80},
    )
    op.create_table(
        "sessions",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(200), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("user_id", sa.Text),
        sa.Column("first_at", sa.BigInteger, nullable=False),
        sa.Column("last_at", sa.BigInteger, nullable=False),
        sa.Column("end_at", sa.BigInteger, nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        sa.Column("cost_nano", sa.BigInteger, nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.Column("total_tokens", sa.BigInteger, nullable=False),
        sa.Column("latency_sum", sa.Float, nullable=False),
        sqlite_with_rowid=False,
        postgresql_with={"fillfactor": 80},
    )
    op.create_index("ix_sessions_org_last", "sessions", ["org_id", "last_at"])
    op.create_table(
        "rollup_journal",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )

    # The request list pages newest first with a (created_at, id) cursor, filtered by model, user or session:
    # each filter gets an index that ends in (created_at, id), and the older prefixes they supersede go.
    existing = _index_names("requests")
    for name, cols in (
        ("ix_requests_org_created_id", ["org_id", "created_at", "id"]),
        ("ix_requests_org_model_created", ["org_id", "model", "created_at", "id"]),
        ("ix_requests_org_user_created", ["org_id", "user_id", "created_at", "id"]),
        ("ix_requests_org_session_created", ["org_id", "session_id", "created_at", "id"]),
    ):
        if name not in existing:
            op.create_index(name, "requests", cols)
    for old in ("ix_requests_org_created", "ix_requests_org_user", "ix_requests_org_session"):
        if old in existing:
            op.drop_index(old, table_name="requests")

    from switchyard.stores.rollup_sql import rebuild_sync

    rebuild_sync(op.get_bind())  # rollups and sessions of the rows logged before this upgrade


def downgrade() -> None:
    for name in (
        "ix_requests_org_created_id",
        "ix_requests_org_model_created",
        "ix_requests_org_user_created",
        "ix_requests_org_session_created",
    ):
        op.drop_index(name, table_name="requests")
    op.create_index("ix_requests_org_created", "requests", ["org_id", "created_at"])
    op.create_index("ix_requests_org_user", "requests", ["org_id", "user_id"])
    op.create_index("ix_requests_org_session", "requests", ["org_id", "session_id"])
    for table in ("rollup_journal", "sessions", "rollups", "request_scores", "request_feedback"):
        op.drop_table(table)
