"""A serving process imports only what its configuration needs (peak RSS, start-up time, CLI speed): no Alembic
unless a migration must run, no redis-py without `redis.url`. Each check runs in a fresh interpreter, since this
test process has imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from switchyard.stores import sql as sql_module


def _modules_after(code: str, tmp_path: Path) -> set[str]:
    """Top-level packages imported by `code` in a new interpreter (cwd and home in tmp_path)."""
    script = (
        textwrap.dedent(code)
        + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "SWITCHYARD_HOME": str(tmp_path), "PYTHONPATH": ":".join(sys.path)},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_head_revisions_are_alembics_heads() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(sql_module.alembic_config())
    assert sql_module.head_revisions() == frozenset(script.get_heads())


def test_the_app_imports_neither_alembic_nor_redis_nor_the_dashboard(tmp_path: Path) -> None:
    mods = _modules_after("import switchyard.app, switchyard.deps", tmp_path)
    assert "switchyard" in mods
    assert not mods & {"alembic", "mako", "redis", "opentelemetry", "jinja2"}


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
