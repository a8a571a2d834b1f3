"""Initial schema: organisations, gateway keys, request log and its properties.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "gateway_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("org_id", sa.String(36), nullable=False, index=True),
        sa.Column("name", sa.String(200)),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(36)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("requested_model", sa.Text),
        sa.Column("model", sa.Text),
        sa.Column("provider", sa.String(64)),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("cache_hit", sa.Boolean, nullable=False),
        sa.Column("latency_ms", sa.Float),
        sa.Column("ttft_ms", sa.Float),
        sa.Column("overhead_ms", sa.Float),
        sa.Column("prompt_tokens", sa.Integer),
        sa.Column("completion_tokens", sa.Integer),
        sa.Column("total_tokens", sa.Integer),
        sa.Column("cached_tokens", sa.Integer),
        sa.Column("cache_write_tokens", sa.Integer),
        sa.Column("reasoning_tokens", sa.Integer),
        sa.Column("cost_usd", sa.Float),
        sa.Column("user_id", sa.Text),
        sa.Column("session_id", sa.Text),
        sa.Column("session_path", sa.Text),
        sa.Column("session_name", sa.Text),
        sa.Column("prompt_id", sa.Text),
        sa.Column("properties", sa.Text),
        sa.Column("request_body", sa.Text),
        sa.Column("response_body", sa.Text),
        sa.Column("attempts", sa.Text),
    )
    op.create_index("ix_requests_org_created", "requests", ["org_id", "created_at"])
    op.create_index("ix_requests_org_user", "requests", ["org_id", "user_id"])
    op.create_index("ix_requests_org_session", "requests", ["org_id", "session_id"])
    op.create_table(
        "request_properties",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_request_properties_lookup", "request_properties", ["org_id", "key", "value"])
