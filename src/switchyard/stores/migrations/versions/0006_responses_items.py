"""Responses API state for bridged providers: the items the gateway produced (and each response's whole
conversation), so `previous_response_id` and `item_reference` work for Claude, Gemini and every provider the
Responses API is bridged to. Keyed by organisation and id; every row expires (`responses.retention_days`).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "response_items",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_response_items_expires", "response_items", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_response_items_expires", table_name="response_items")
    op.drop_table("response_items")
