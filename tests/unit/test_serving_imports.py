"""A serving process imports only what its configuration needs (peak RSS, start-up time, CLI speed): no Alembic
unless a migration must run, no redis-py without `redis.url`. Each check runs in a fresh interpreter, since this
test process has imported everything already."""

from __future__ import annotations

import textwrap
from pathlib import Path

from support.fresh_python import fresh_python_json
from switchyard.stores import sql as sql_module


def _modules_after(code: str, tmp_path: Path, *, packages: bool = True) -> set[str]:
    """Top-level packages (else every module) imported by `code` in a new interpreter (cwd and home in tmp_path)."""
    names = "{m.split('.')[0] for m in sys.modules}" if packages else "set(sys.modules)"
    script = textwrap.dedent(code) + f"\nimport sys, json\nprint(json.dumps(sorted({names})))"
    return set(fresh_python_json(script, cwd=tmp_path, env={"SWITCHYARD_HOME": str(tmp_path)}))


def test_head_revisions_are_alembics_heads() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(sql_module.alembic_config())
    assert sql_module.head_revisions() == frozenset(script.get_heads())


def test_the_app_imports_neither_alembic_nor_redis_nor_the_dashboard(tmp_path: Path) -> None:
    mods = _modules_after("import switchyard.app, switchyard.deps", tmp_path)
    assert "switchyard" in mods
    assert not mods & {"alembic", "mako", "redis", "opentelemetry", "jinja2"}


# imported on first use only (tests/e2e/test_serving_footprint.py checks a serving process after requests)
FIRST_USE = {
    "cryptography",  # security.Secrets._cipher
    "sqlalchemy.dialects.postgresql",  # stores/dialect_insert.py
    "switchyard.api.admin",  # app._api_routes
    "switchyard.admin.orgs",
    "switchyard.api.query",
    "switchyard.api.insight_routes",
    "switchyard.stores.insights",
    "switchyard.dashboard",  # app._dashboard_routes
    "switchyard.providers.gemini",  # providers.formats.Translators
    "switchyard.providers.bedrock",
    "switchyard.providers.vertex",
}


def test_the_serving_app_leaves_what_only_some_requests_need_for_their_first_use(tmp_path: Path) -> None:
    mods = _modules_after(
        "import switchyard.app, switchyard.deps, switchyard.cli.serving", tmp_path, packages=False
    )
    assert "switchyard.app" in mods
    assert mods & FIRST_USE == set()


def test_a_store_at_head_is_not_migrated_again(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    code = f"""
        import asyncio
        from switchyard.stores.sql import SQLStore

        async def main():
            store = SQLStore("sqlite:///{db}")
            await store.migrate()
            await store.close()

        asyncio.run(main())
    """
    assert "alembic" in _modules_after(code, tmp_path)  # a new database: the migrations run
    assert "alembic" not in _modules_after(code, tmp_path)  # at head: one SELECT, Alembic never imported


async def test_at_head_is_false_for_an_empty_or_older_database(tmp_path: Path) -> None:
    store = sql_module.SQLStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        assert not await store.at_head()  # no version table
        await store.migrate()
        assert await store.at_head()
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
        assert not await store.at_head()
    finally:
        await store.close()


def test_a_serving_app_settles_its_heap_and_an_embedded_one_does_not(tmp_path: Path) -> None:
    code = """
        import asyncio, gc, os, sys
        os.environ["SWITCHYARD_CONFIG"] = ""
        from switchyard.app import app_from_env, create_app, GC_THRESHOLDS
        from switchyard.config import load_settings

        async def lifespan(app):
            sent = []
            msgs = iter([{"type": "lifespan.startup"}])
            done = asyncio.Event()
            async def receive():
                try:
                    return next(msgs)
                except StopIteration:
                    await done.wait()
                    return {"type": "lifespan.shutdown"}
            async def send(m):
                sent.append(m["type"])
                if m["type"] == "lifespan.startup.complete":
                    state.append((gc.get_threshold(), gc.get_freeze_count() > 0))
                    done.set()
            await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)

        state = []
        asyncio.run(lifespan(create_app(load_settings(None))))
        asyncio.run(lifespan(app_from_env()))
        embedded, serving = state
        assert embedded == ((700, 10, 10), False), embedded
        assert serving == (GC_THRESHOLDS, True), serving
    """
    _modules_after(code, tmp_path)  # raises (check=True) when an assertion fails
