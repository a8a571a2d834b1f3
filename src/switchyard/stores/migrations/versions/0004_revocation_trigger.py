"""Database triggers bump the change counter on every edit of gateway keys, provider keys and organisations,
made by the gateway or directly in SQL; a table for facts about the store (the master key's check value).

Why triggers: the gateway drops its key caches when `store_revision.value` changes (polled every second).
The gateway bumps it itself in the same transaction as each change, but a key revoked with a plain
`UPDATE gateway_keys SET revoked_at = ...` in psql or sqlite3 used to stay valid until its cache entry expired
(up to 300 s). With these triggers any committed change moves the counter. The gateway's own bump stays (it
costs nothing and covers a store whose triggers were lost); counting one change twice is harmless, the
pollers only compare values.

Row-level triggers (AFTER INSERT / UPDATE / DELETE, per changed row): a statement that changes nothing (a
second revoke of the same key) leaves the counter, and the caches, alone; a bulk edit bumps once per row, in
its own transaction. PostgreSQL adds a statement-level TRUNCATE trigger; its function updates
`store_revision` in the schema of the table that fired it (TG_TABLE_SCHEMA), whatever the session's
search_path. Note for later SQLite migrations: a batch ("move and copy") alteration of one of these
tables drops its triggers, which must then be created again (tests/contract/test_revision_triggers.py fails
if they are missing).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

TABLES = ("gateway_keys", "provider_keys", "organizations")
_SQLITE_EVENTS = ("insert", "update", "delete")
_PG_FUNCTION = "switchyard_bump_revision"


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                EXECUTE format('UPDATE %I.store_revision SET value = value + 1 WHERE id = 1', TG_TABLE_SCHEMA);
                RETURN NULL;
            END
            $$
            """
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_bump_revision AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_truncate_bump_revision AFTER TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()"
            )
    else:
        for table in TABLES:
            for event in _SQLITE_EVENTS:
                op.execute(
                    f"CREATE TRIGGER {table}_{event}_bump_revision AFTER {event.upper()} ON {table} "
                    "BEGIN UPDATE store_revision SET value = value + 1 WHERE id = 1; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_revision ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_truncate_bump_revision ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()")
    else:
        for table in TABLES:
            for event in _SQLITE_EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{event}_bump_revision")
    op.drop_table("store_meta")
