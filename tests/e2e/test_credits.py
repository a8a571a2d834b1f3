"""Credits (PTB) end to end on PostgreSQL: hundreds of concurrent requests against a balance that cannot cover
them all. The ledger must balance to the micro-dollar, and no answered request may have run without a hold."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.mock_upstream import MockUpstream
from support.services import drop_schema, fresh_schema, require_postgres
from switchyard.security import Secrets, load_or_create_master
from switchyard.stores.sql import SQLStore

pytestmark = pytest.mark.postgres

N = 300
START_USD = 0.004  # worst case per call here ≈ $0.00006 (≤ ~600 prompt bytes × $0.15/M + 50 × $0.60/M)


@pytest.fixture(scope="module")
def pg_gateway(
    upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GatewayProcess, str]]:
    url = require_postgres()
    schema = fresh_schema("sy_credits")
    gw = GatewayProcess(
        tmp_path_factory.mktemp("credits"),
        default_config(upstream.url, free_port(), database={"url": url, "schema": schema}),
    )
    gw.prepare()
    gw.start()
    try:
        yield gw, schema
    finally:
        gw.stop()
        drop_schema(schema)


async def _store_call(schema: str, fn):  # the test talks to the same database as the gateway
    store = SQLStore(require_postgres(), schema=schema)
    try:
        return await fn(store)
    finally:
        await store.close()


def _chat(gw: GatewayProcess, key: str, model: str = "gpt-4o-mini") -> tuple[str, dict]:
    rid = str(uuid.uuid4())
    headers = {**gw.headers(key), "Helicone-Request-Id": rid}
    body = {
        "model": model,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "What's the weather?"}],
    }
    return rid, {"headers": headers, "json": body}


async def _fire(gw: GatewayProcess, key: str, n: int) -> list[tuple[str, httpx.Response]]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=gw.url, limits=limits, timeout=60) as client:

        async def one() -> tuple[str, httpx.Response]:
            rid, kw = _chat(gw, key)
            return rid, await client.post("/v1/chat/completions", **kw)

        return await asyncio.gather(*(one() for _ in range(n)))


def _wait(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_ledger_balances_under_concurrent_load(pg_gateway: tuple[GatewayProcess, str]) -> None:
    gw, schema = pg_gateway
    org_name = "credits-load"
    key = gw.new_key(org_name)

    async def setup(store: SQLStore):
        org = await store.get_org_by_name(org_name)
        await store.update_org(org.id, credits_enabled=True)
        await store.add_credits(org.id, START_USD, "test grant")
        return org

    org = asyncio.run(_store_call(schema, setup))
    time.sleep(1.5)  # the gateway drops its organisation cache within a second of the change

    results = asyncio.run(_fire(gw, key, N))
    statuses = {}
    for _, r in results:
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.get(200, 0) > 0 and statuses.get(429, 0) > 0, statuses  # the balance ran out part-way
    for _, r in results:
        if r.status_code == 429:
            err = r.json()["error"]
            assert err["code"] == "insufficient_credits" and "Insufficient credits" in err["message"]

    ok_ids = {rid for rid, r in results if r.status_code == 200}

    def rows():
        data = gw.query({"filter": "all", "limit": 1000}, key=key)
        return data if len(data) == N else None

    logged = _wait(rows, what="every request logged")
    cost_by_id = {row["request_id"]: row["costUSD"] for row in logged}
    assert all(cost_by_id[rid] and cost_by_id[rid] > 0 for rid in ok_ids)
    spent = sum(cost_by_id[rid] for rid in ok_ids)

    async def settled(store: SQLStore):
        return await store.credit_balance(org.id), await store.credit_ledger(org.id, limit=10_000)

    def done():
        bal, ledger = asyncio.run(_store_call(schema, settled))
        return (bal, ledger) if bal.reserved_usd == 0 else None

    balance, ledger = _wait(done, what="every hold settled or released")
    charged = {e.request_id: -e.amount_usd for e in ledger if e.kind == "charge"}
    diff = {
        rid: (cost_by_id.get(rid), charged.get(rid))
        for rid in ok_ids | set(charged)
        if abs((cost_by_id.get(rid) or 0) - (charged.get(rid) or 0)) > 1e-9
    }
    assert not diff
    assert balance.balance_usd == pytest.approx(START_USD - spent, abs=1e-6)
    assert balance.balance_usd >= -1e-9  # never overspent
    charges = [e for e in ledger if e.kind == "charge"]
    # every answered request was charged exactly once (it held a reservation: a charge only settles a hold) ...
    assert sorted(e.request_id for e in charges) == sorted(ok_ids)
    # ... and the ledger sums to the balance
    assert sum(e.amount_usd for e in ledger) == pytest.approx(balance.balance_usd, abs=1e-6)


def test_own_keys_run_without_credits_and_exhausted_credits_say_so(
    pg_gateway: tuple[GatewayProcess, str], upstream: MockUpstream
) -> None:
    gw, schema = pg_gateway
    key = gw.new_key("credits-byok")
    secret = "sk-org-own-openai-key-5150"
    master = Secrets(load_or_create_master(None, Path(gw.home)))

    async def setup(store: SQLStore):
        org = await store.get_org_by_name("credits-byok")
        await store.update_org(org.id, credits_enabled=True)  # no balance at all
        return org

    org = asyncio.run(_store_call(schema, setup))
    time.sleep(1.5)
    rid, kw = _chat(gw, key)
    r = httpx.post(f"{gw.url}/v1/chat/completions", timeout=30, **kw)
    assert r.status_code == 429 and r.json()["error"]["code"] == "insufficient_credits"
    assert "retry-after" not in r.headers  # waiting does not add credits

    async def add_key(store: SQLStore):
        await store.create_provider_key(
            org.id,
            "openai",
            master.encrypt(secret),
            secret[-4:],
            key_id="own",
            config={"base_url": f"{upstream.url}/v1"},
        )

    asyncio.run(_store_call(schema, add_key))
    time.sleep(1.5)
    rid, kw = _chat(gw, key)
    r = httpx.post(f"{gw.url}/v1/chat/completions", timeout=30, **kw)
    assert r.status_code == 200, r.text
    assert upstream.last("/chat/completions").headers["authorization"] == f"Bearer {secret}"
    row = gw.wait_row(rid, key=key)
    assert [a["source"] for a in row["attempts"]] == ["gpt-4o-mini/openai/byok/own"]

    async def balance(store: SQLStore):
        return await store.credit_balance(org.id)

    assert asyncio.run(_store_call(schema, balance)).balance_usd == 0  # BYOK costs no credits
