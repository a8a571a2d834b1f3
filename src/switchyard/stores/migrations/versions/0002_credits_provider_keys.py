"""Provider keys (BYOK), credits (reservations and ledger), per-key and per-org settings, a change counter for
the gateway's caches, and the request log's cost_saved_usd.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column(
        "organizations", sa.Column("credits_enabled", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column("organizations", sa.Column("limits", sa.Text))
    op.add_column("organizations", sa.Column("updated_at", sa.BigInteger, nullable=False, server_default="0"))
    op.execute("UPDATE organizations SET updated_at = created_at")
    op.add_column("gateway_keys", sa.Column("allowed_models", sa.Text))
    op.add_column("gateway_keys", sa.Column("limits", sa.Text))
    op.add_column("requests", sa.Column("cost_saved_usd", sa.Float))

    op.create_table(
        "provider_keys",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("ciphertext", sa.Text, nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("config", sa.Text),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "credit_accounts",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("reserved", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "credit_reservations",
        sa.Column("reservation_id", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_credit_reservations_created", "credit_reservations", ["created_at"])
    op.create_table(
        "credit_ledger",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_credit_ledger_org", "credit_ledger", ["org_id", "id"])
    revision_table = op.create_table(
        "store_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(revision_table, [{"id": 1, "value": 0}])
