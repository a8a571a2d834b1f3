"""A gateway key revoked directly in SQL (an operator's sqlite3 or psql session, not the CLI or admin API) stops
working within about a second on a running gateway: database triggers bump the revision counter the gateway
polls (migration 0004). Before them it stayed valid for as long as it was cached (up to 300 s)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.services import drop_schema, fresh_schema, require_postgres

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
WITHIN = 3.0  # seconds: the 1 s poll, plus a busy machine's scheduling


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def gw(request, upstream, tmp_path_factory) -> Iterator[GatewayProcess]:
    extra = {}
    schema = None
    if request.param == "postgres":
        schema = fresh_schema("sy_sqlrevoke")
        extra["database"] = {"url": require_postgres(), "schema": schema}
    g = GatewayProcess(
        tmp_path_factory.mktemp(f"sqlrevoke-{request.param}"),
        default_config(upstream.url, free_port(), **extra),
    )
    g.prepare()
    g.start()
    try:
        yield g
    finally:
        g.stop()
        if schema:
            drop_schema(schema)


def run_sql(gw: GatewayProcess, sql: str, *args: str) -> None:
    """One statement in the operator's own session: sqlite3 on the file, or asyncpg with the default
    search_path and a schema-qualified table (as someone in psql would write it)."""
    db = gw.config.get("database")
    if not db:
        with sqlite3.connect(gw.home / "switchyard.db") as conn:
            conn.execute(sql.replace("$1", "?").replace("{schema}.", ""), args)
        return
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(db["url"])
        try:
            await conn.execute(sql.replace("{schema}", f'"{db["schema"]}"'), *args)
        finally:
            await conn.close()

    asyncio.run(go())


def status(gw: GatewayProcess, key: str) -> int:
    return httpx.post(
        f"{gw.url}/v1/chat/completions", json=CHAT, headers=gw.headers(key), timeout=10
    ).status_code


def test_a_key_revoked_in_raw_sql_is_refused_within_seconds(gw: GatewayProcess) -> None:
    org = f"sqlrevoke-{time.monotonic_ns()}"
    key = gw.new_key(org)
    other = gw.new_key(org + "-other")
    assert status(gw, key) == 200  # cached now (valid for 300 s unless the cache is dropped)
    assert status(gw, key) == 200
    run_sql(
        gw,
        "UPDATE {schema}.gateway_keys SET revoked_at = 1 "
        "WHERE org_id = (SELECT id FROM {schema}.organizations WHERE name = $1)",
        org,
    )
    revoked_at = time.monotonic()
    code = 200
    while code == 200 and time.monotonic() - revoked_at < WITHIN + 5:
        code = status(gw, key)
        if code == 200:
            time.sleep(0.05)
    took = time.monotonic() - revoked_at
    print(
        f"[{gw.config.get('database', {}).get('url', 'sqlite')[:10]}] raw-SQL revocation refused after {took:.2f}s"
    )
    assert code == 401, f"still {code} {took:.1f}s after the revocation"
    assert took < WITHIN, f"refused only after {took:.2f}s"
    assert status(gw, other) == 200  # other keys keep working (dropped from the cache, found again)
