"""Stripe meter events: the per-stream cursor and the ledger of settled events.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "meter_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("period_end", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "meter_events",
        sa.Column("identifier", sa.String(100), primary_key=True),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("customer", sa.Text, nullable=False),
        sa.Column("event_name", sa.String(100), nullable=False),
        sa.Column("period_start", sa.BigInteger, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("settled_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_meter_events_period", "meter_events", ["period_start"])


def downgrade() -> None:
    op.drop_index("ix_meter_events_period", "meter_events")
    op.drop_table("meter_events")
    op.drop_table("meter_cursors")
