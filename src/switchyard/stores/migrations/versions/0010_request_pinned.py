"""`requests.pinned`: whether session affinity sent the request first to its session's pinned endpoint.

NULL: the request named no session (or opted out); false: it named one with no usable pin yet (its first
request, an expired pin, a pinned endpoint whose circuit was open); true: it was sent first to its pin.
Existing rows stay NULL. Adding a nullable column is a metadata-only change on SQLite and PostgreSQL.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.add_column("requests", sa.Column("pinned", sa.Boolean, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("pinned")
