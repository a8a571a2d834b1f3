"""Store contract: organisation and gateway-key settings, the change counter the gateway polls, the 0002
migration over existing data, and the request log's cache fields — on every backend (see conftest.py)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from support.services import fresh_schema, require_postgres
from switchyard.pipeline.context import RequestContext
from switchyard.pipeline.headers import parse_helicone
from switchyard.pipeline.record import build_record
from switchyard.stores import sql as sql_module
from switchyard.stores.base import LimitRule, NotFound, Org
from switchyard.stores.sql import SQLStore


def uid() -> str:
    return uuid.uuid4().hex


async def new_org(store: SQLStore) -> Org:
    return await store.create_org(f"settings-{uid()}")


RULES = (
    LimitRule("requests", 100, 60),
    LimitRule("usd", 2.5, 86_400, per="org"),
    LimitRule("tokens", 10_000, 3600, per="property:team"),
)


# -- organisations ---------------------------------------------------------------------------------------


async def test_new_org_has_credits_off_and_no_limits(store: SQLStore) -> None:
    org = await new_org(store)
    assert org.credits_enabled is False and org.limits == ()
    assert await store.get_org(org.id) == org


async def test_update_org_settings_round_trip(store: SQLStore) -> None:
    org = await new_org(store)
    updated = await store.update_org(org.id, credits_enabled=True, limits=RULES)
    assert updated.credits_enabled is True and updated.limits == RULES
    assert updated.id == org.id and updated.name == org.name and updated.created_at == org.created_at
    assert await store.get_org(org.id) == updated
    assert await store.get_org_by_name(org.name) == updated
    assert updated in await store.list_orgs()


async def test_update_org_changes_only_what_is_given(store: SQLStore) -> None:
    org = await new_org(store)
    await store.update_org(org.id, credits_enabled=True, limits=RULES)
    kept = await store.update_org(org.id, limits=None)
    assert kept.credits_enabled is True and kept.limits == RULES
    off = await store.update_org(org.id, credits_enabled=False)
    assert off.credits_enabled is False and off.limits == RULES
    cleared = await store.update_org(org.id, limits=[])
    assert cleared.limits == () and cleared.credits_enabled is False


async def test_update_unknown_org_is_not_found(store: SQLStore) -> None:
    with pytest.raises(NotFound):
        await store.update_org(str(uuid.uuid4()), credits_enabled=True)


# -- gateway keys ----------------------------------------------------------------------------------------


async def test_get_key(store: SQLStore) -> None:
    org = await new_org(store)
    key = await store.create_key(org.id, uid() + uid(), "sk-sy-abcd", "ci")
    assert key.allowed_models == () and key.limits == ()
    assert await store.get_key(key.id) == key
    assert await store.get_key(str(uuid.uuid4())) is None


async def test_update_key_settings_round_trip(store: SQLStore) -> None:
    org = await new_org(store)
    digest = uid() + uid()
    key = await store.create_key(org.id, digest, "sk-sy-abcd", "ci")
    models = ("gpt-4o-mini", "claude-sonnet-4/anthropic")
    updated = await store.update_key(key.id, name="renamed", allowed_models=models, limits=RULES[:1])
    assert updated.name == "renamed" and updated.allowed_models == models and updated.limits == RULES[:1]
    assert updated.id == key.id and updated.prefix == key.prefix and updated.created_at == key.created_at
    assert await store.get_key(key.id) == updated
    assert await store.find_key_by_hash(digest) == updated
    assert await store.list_keys(org.id) == [updated]


async def test_update_key_changes_only_what_is_given(store: SQLStore) -> None:
    org = await new_org(store)
    key = await store.create_key(org.id, uid() + uid(), "sk-sy-abcd", "ci")
    await store.update_key(key.id, allowed_models=["gpt-4o"], limits=RULES)
    renamed = await store.update_key(key.id, name="new")
    assert renamed.name == "new" and renamed.allowed_models == ("gpt-4o",) and renamed.limits == RULES
    cleared = await store.update_key(key.id, allowed_models=[], limits=[])
    assert cleared.name == "new" and cleared.allowed_models == () and cleared.limits == ()


async def test_update_revoked_key_keeps_it_revoked(store: SQLStore) -> None:
    org = await new_org(store)
    key = await store.create_key(org.id, uid() + uid(), "sk-sy-abcd", None)
    revoked = await store.revoke_key(key.id)
    updated = await store.update_key(key.id, name="still revoked")
    assert updated.revoked_at == revoked.revoked_at and not updated.active


async def test_update_unknown_key_is_not_found(store: SQLStore) -> None:
    with pytest.raises(NotFound):
        await store.update_key(str(uuid.uuid4()), name="x")


# -- the change counter ----------------------------------------------------------------------------------


async def test_keys_revision_changes_on_every_settings_change(store: SQLStore) -> None:
    seen = [await store.keys_revision()]

    async def changed(what: str) -> None:
        rev = await store.keys_revision()
        assert rev not in seen, f"keys_revision did not change on {what}"
        assert await store.keys_revision() == rev, "the revision must be stable while nothing changes"
        seen.append(rev)

    org = await new_org(store)
    await changed("create_org")
    await store.update_org(org.id, credits_enabled=True)
    await changed("update_org")
    key = await store.create_key(org.id, uid() + uid(), "sk-sy-abcd", None)
    await changed("create_key")
    await store.update_key(key.id, allowed_models=["gpt-4o"])
    await changed("update_key")
    await store.revoke_key(key.id)
    await changed("revoke_key")
    await store.create_provider_key(org.id, "openai", "ct", "abcd", key_id="main")
    await changed("create_provider_key")
    await store.update_provider_key(org.id, "main", enabled=False)
    await changed("update_provider_key")
    await store.delete_provider_key(org.id, "main")
    await changed("delete_provider_key")


async def test_keys_revision_changes_within_one_frozen_millisecond(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several gateway processes' clocks disagree and changes can share a millisecond: neither may hide one."""
    monkeypatch.setattr(sql_module, "now_ms", lambda: 1_000)  # a clock stuck in the past
    org = await new_org(store)
    await store.create_provider_key(org.id, "openai", "ct", "abcd", key_id="a")
    before = await store.keys_revision()
    await store.update_provider_key(org.id, "a", hint="wxyz")
    middle = await store.keys_revision()
    await store.delete_provider_key(org.id, "a")
    after = await store.keys_revision()
    assert len({before, middle, after}) == 3


async def test_failed_changes_leave_keys_revision_alone(store: SQLStore) -> None:
    org = await new_org(store)
    await store.create_provider_key(org.id, "openai", "ct", "abcd", key_id="dup")
    rev = await store.keys_revision()
    for attempt in (
        store.update_org(str(uuid.uuid4()), credits_enabled=True),
        store.update_key(str(uuid.uuid4()), name="x"),
        store.update_provider_key(org.id, "missing", enabled=False),
        store.delete_provider_key(org.id, "missing"),
        store.create_provider_key(org.id, "openai", "ct", "abcd", key_id="dup"),
    ):
        with pytest.raises(Exception):  # noqa: B017 - NotFound or Conflict; each has its own test
            await attempt
    assert await store.keys_revision() == rev


# -- request log: cache fields ---------------------------------------------------------------------------


async def test_cache_hit_and_cost_saved_are_logged(store: SQLStore) -> None:
    """A cache hit is written as such by the record builder, with what the original call cost."""
    org = await new_org(store)
    ctx = RequestContext(path="/v1/chat/completions", helicone=parse_helicone({}))
    ctx.status, ctx.cache_hit, ctx.cost_saved_usd, ctx.cost_usd = 200, True, 0.00123, 0.0
    rec = build_record(ctx)
    rec["org_id"] = org.id
    assert await store.insert_requests([rec]) == []
    row = await store.get_request(org.id, rec["id"])
    assert row is not None and row["cache_hit"] is True and row["cost_saved_usd"] == pytest.approx(0.00123)


# -- the 0002 migration over existing data ---------------------------------------------------------------


async def _at_0001(store: SQLStore) -> None:
    """Migrate only to 0001 (what an older release left behind)."""
    cfg = sql_module.alembic_config()
    if store.schema:
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{store.schema}"')
    async with store.engine.begin() as conn:

        def run(sync_conn: Any) -> None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "0001")

        await conn.run_sync(run)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_upgrade_from_0001_keeps_existing_orgs_and_keys(backend: str, tmp_path: Any) -> None:
    schema = None
    if backend == "sqlite":
        store = SQLStore(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        schema = fresh_schema("sy_upgrade")
        store = SQLStore(require_postgres(), schema=schema)
    try:
        await _at_0001(store)
        async with store.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO organizations (id, name, created_at) VALUES ('o1', 'old', 5)")
            )
            await conn.execute(
                text(
                    "INSERT INTO gateway_keys (id, org_id, name, key_hash, prefix, created_at, updated_at) "
                    "VALUES ('k1', 'o1', 'legacy', 'h1', 'sk-sy-old', 6, 6)"
                )
            )
        await store.migrate()
        org = await store.get_org("o1")
        assert org == Org(id="o1", name="old", created_at=5, credits_enabled=False, limits=())
        key = await store.find_key_by_hash("h1")
        assert key is not None and key.allowed_models == () and key.limits == () and key.active
        updated = await store.update_org("o1", credits_enabled=True)
        assert updated.credits_enabled
        assert (await store.add_credits("o1", 1.0)).kind == "grant"
    finally:
        if schema:
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await store.close()
