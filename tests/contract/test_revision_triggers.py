"""Store contract: database triggers bump the change counter the gateway polls when gateway keys, provider keys
or organisations are edited directly in SQL (migration 0004), and the store_meta facts the master-key check
relies on — on SQLite and PostgreSQL (see conftest.py)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from sqlalchemy import text

from switchyard.security import Secrets
from switchyard.stores.sql import SQLStore


def uid() -> str:
    return uuid.uuid4().hex


async def raw(store: SQLStore, sql: str, **params: object) -> None:
    """One statement in its own transaction, the way an operator's psql or sqlite3 session would send it."""
    async with store.engine.begin() as conn:
        await conn.execute(text(sql), params)


async def test_raw_sql_revocation_of_a_gateway_key_bumps_the_revision(store: SQLStore) -> None:
    org = await store.create_org(f"trig-{uid()}")
    key = await store.create_key(org.id, uid() + uid(), "sk-sy-abcd", None)
    before = await store.keys_revision()
    await raw(store, "UPDATE gateway_keys SET revoked_at = 1 WHERE id = :id", id=key.id)
    after = await store.keys_revision()
    assert after > before
    await raw(store, "DELETE FROM gateway_keys WHERE id = :id", id=key.id)
    assert await store.keys_revision() > after


async def test_raw_sql_inserts_and_edits_of_every_cached_table_bump_the_revision(store: SQLStore) -> None:
    org_id = str(uuid.uuid4())
    statements = [
        (
            "INSERT INTO organizations (id, name, created_at, credits_enabled, updated_at) "
            "VALUES (:org, :name, 0, false, 0)",
            {"name": f"trig-{uid()}"},
        ),
        ("UPDATE organizations SET credits_enabled = true WHERE id = :org", {}),
        (
            "INSERT INTO gateway_keys (id, org_id, key_hash, prefix, created_at, updated_at) "
            "VALUES (:kid, :org, :hash, 'sk-sy-abcd', 0, 0)",
            {"kid": str(uuid.uuid4()), "hash": uid() + uid()},
        ),
        (
            "INSERT INTO provider_keys (org_id, id, provider, ciphertext, hint, enabled, created_at, updated_at) "
            "VALUES (:org, 'main', 'openai', 'x', '1234', true, 0, 0)",
            {},
        ),
        ("UPDATE provider_keys SET enabled = false WHERE org_id = :org AND id = 'main'", {}),
        ("DELETE FROM provider_keys WHERE org_id = :org", {}),
        ("DELETE FROM gateway_keys WHERE org_id = :org", {}),
        ("DELETE FROM organizations WHERE id = :org", {}),
    ]
    for sql, params in statements:
        before = await store.keys_revision()
        await raw(store, sql, org=org_id, **params)
        assert await store.keys_revision() > before, sql


async def test_a_rolled_back_edit_does_not_bump_the_revision(store: SQLStore) -> None:
    org = await store.create_org(f"trig-{uid()}")
    before = await store.keys_revision()
    async with store.engine.connect() as conn:
        tx = await conn.begin()
        await conn.execute(
            text("UPDATE organizations SET credits_enabled = true WHERE id = :id"), {"id": org.id}
        )
        await tx.rollback()
    assert await store.keys_revision() == before


async def test_the_gateways_own_changes_still_move_the_revision(store: SQLStore) -> None:
    """The app's bump and the trigger's both land: the counter moves (by two), never stays put or goes back."""
    org = await store.create_org(f"trig-{uid()}")
    key = await store.create_key(org.id, uid() + uid(), "sk-sy-abcd", None)
    before = await store.keys_revision()
    await store.revoke_key(key.id)
    assert await store.keys_revision() > before


async def test_postgres_trigger_bumps_the_tables_own_schema_whatever_the_search_path(store: SQLStore) -> None:
    if store.dialect != "postgresql":
        return  # SQLite has one schema per file
    org = await store.create_org(f"trig-{uid()}")
    key = await store.create_key(org.id, uid() + uid(), "sk-sy-abcd", None)
    before = await store.keys_revision()
    # an operator's session: default search_path, schema-qualified SQL
    conn = await asyncpg.connect(store.url)
    try:
        await conn.execute(f'UPDATE "{store.schema}".gateway_keys SET revoked_at = 1 WHERE id = $1', key.id)
    finally:
        await conn.close()
    assert await store.keys_revision() > before


# -- store_meta ------------------------------------------------------------------------------------------


async def test_meta_first_writer_wins(store: SQLStore) -> None:
    name = f"test-{uid()}"[:64]
    assert await store.get_meta(name) is None
    results = await asyncio.gather(*(store.put_meta_once(name, f"value-{i}") for i in range(8)))
    stored = await store.get_meta(name)
    assert stored is not None and set(results) == {stored}


async def test_provider_key_samples_are_ciphertexts(store: SQLStore) -> None:
    org = await store.create_org(f"trig-{uid()}")
    token = Secrets(b"m" * 32).encrypt("sk-provider")
    await store.create_provider_key(org.id, "openai", token, "ider", key_id="s")
    samples = await store.provider_key_samples(1000)
    assert token in samples
    assert len(await store.provider_key_samples(1)) == 1
