"""Managed prompts: prompts, their immutable versions, and environments pointing at versions.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "prompts",
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id"),
    )
    op.create_table(
        "prompt_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("prompt_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_prompt_versions_prompt", "prompt_versions", ["org_id", "prompt_id", "number"], unique=True
    )
    op.create_table(
        "prompt_environments",
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("prompt_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "prompt_id", "name"),
    )


def downgrade() -> None:
    for table in ("prompt_environments", "prompt_versions", "prompts"):
        op.drop_table(table)
