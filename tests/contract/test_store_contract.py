"""The store contract (stores/base.py), run against every backend of `SQLStore` (see conftest.py).

Every test makes its own organisations (unique names), so tests share one migrated store per backend without
seeing each other's rows.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from switchyard.stores import sql as sql_module
from switchyard.stores.base import Conflict, NotFound, Org, RequestQuery, StoreUnavailable
from switchyard.stores.filters import FilterError
from switchyard.stores.sql import SQLStore

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z in epoch milliseconds


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def uid() -> str:
    return uuid.uuid4().hex


def rec(org_id: str, **kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "org_id": org_id,
        "key_id": None,
        "created_at": T0,
        "path": "/v1/chat/completions",
        "requested_model": kw.get("model"),
        "model": None,
        "provider": None,
        "status": 200,
        "error": None,
        "stream": False,
        "cache_hit": False,
        "latency_ms": 12.5,
        "ttft_ms": None,
        "overhead_ms": 0.4,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": 0.0001,
        "user_id": None,
        "session_id": None,
        "session_path": None,
        "session_name": None,
        "prompt_id": None,
        "properties": {},
        "request_body": '{"model":"x","messages":[]}',
        "response_body": '{"id":"chatcmpl-1"}',
        "attempts": [{"provider": "openai", "status": 200}],
    }
    r.update(kw)
    return r


async def new_org(store: SQLStore) -> Org:
    return await store.create_org(f"org-{uid()}")


# A fixed request log: six rows in one org, and look-alikes in another org that must never leak.
ROWS = {
    "r1": dict(
        model="gpt-4o-mini",
        provider="openai",
        status=200,
        user_id="alice",
        session_id="s1",
        created_at=T0,
        properties={"env": "prod", "team": "core"},
        cost_usd=0.001,
    ),
    "r2": dict(
        model="gpt-4o",
        provider="openai",
        status=429,
        user_id="bob",
        session_id="s1",
        created_at=T0 + 1000,
        properties={"env": "dev"},
        cache_hit=True,
    ),
    "r3": dict(
        model="claude-sonnet-4",
        provider="anthropic",
        status=200,
        user_id="alice",
        session_id="s2",
        created_at=T0 + 2000,
        properties={"env": "prod"},
    ),
    "r4": dict(
        model="gemini-2.5-flash",
        provider="google-ai-studio",
        status=500,
        user_id="carol",
        session_id=None,
        created_at=T0 + 3000,
        properties={},
        error="boom",
    ),
    "r5": dict(
        model="llama_3%x",
        provider="my-vllm",
        status=200,
        user_id="dave",
        session_id="s3",
        created_at=T0 + 4000,
        properties={"team": "ml"},
    ),
    "r6": dict(
        model="GPT-4O-MINI",
        provider="openrouter",
        status=400,
        user_id="erin",
        session_id="s3",
        created_at=T0 + 5000,
        properties={"env": "staging"},
    ),
}


class Log:
    def __init__(self, org: Org, other: Org, ids: dict[str, str]) -> None:
        self.org, self.other, self.ids = org, other, ids
        self.names = {v: k for k, v in ids.items()}

    def q(self, filter: Any = "all", **kw: Any) -> RequestQuery:
        return RequestQuery(org_id=self.org.id, filter=filter, **kw)


@pytest.fixture
async def log(store: SQLStore) -> Log:
    org, other = await new_org(store), await new_org(store)
    ids = {name: str(uuid.uuid4()) for name in ROWS}
    await store.insert_requests([rec(org.id, id=ids[name], **fields) for name, fields in ROWS.items()])
    # Another org with rows matching every filter used below.
    await store.insert_requests([rec(other.id, **fields) for fields in ROWS.values()])
    return Log(org, other, ids)


async def names(store: SQLStore, log: Log, filter: Any = "all", **kw: Any) -> list[str]:
    rows = await store.query_requests(log.q(filter, **kw))
    assert all(r["org_id"] == log.org.id for r in rows), "another org's rows leaked into the result"
    return [log.names[r["id"]] for r in rows]


async def matching(store: SQLStore, log: Log, filter: Any) -> set[str]:
    return set(await names(store, log, filter))


def leaf(column: str, op: str, value: Any, table: str = "request_response_rmt") -> dict[str, Any]:
    return {table: {column: {op: value}}}


_CLOCK_HIGH = [0]  # the controlled clock never goes back across tests


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A store clock under test control: `clock[0]` is the next `now_ms()` value (advanced by 1 per call
    unless frozen by setting `clock[1] = 0`)."""
    state = [max(int(time.time() * 1000), _CLOCK_HIGH[0] + 1), 1]

    def now() -> int:
        v = state[0]
        state[0] += state[1]
        _CLOCK_HIGH[0] = max(_CLOCK_HIGH[0], v)
        return v

    monkeypatch.setattr(sql_module, "now_ms", now)
    return state


# -- lifecycle -------------------------------------------------------------------------------------------


async def test_migrate_is_idempotent(store: SQLStore) -> None:
    org = await new_org(store)
    await store.migrate()
    await store.migrate()
    assert await store.get_org(org.id) == org


async def test_ping(store: SQLStore) -> None:
    await store.ping()


# -- organisations ---------------------------------------------------------------------------------------


async def test_create_and_get_org(store: SQLStore) -> None:
    name = f"acme-{uid()}"
    org = await store.create_org(name)
    assert org.name == name and org.id and org.created_at > 0
    assert await store.get_org_by_name(name) == org
    assert await store.get_org(org.id) == org
    assert await store.get_org_by_name(f"missing-{uid()}") is None
    assert await store.get_org(str(uuid.uuid4())) is None


async def test_duplicate_org_name_conflicts(store: SQLStore) -> None:
    name = f"dup-{uid()}"
    first = await store.create_org(name)
    with pytest.raises(Conflict):
        await store.create_org(name)
    assert await store.get_org_by_name(name) == first


async def test_list_orgs_includes_created_in_creation_order(store: SQLStore, clock: list[int]) -> None:
    a, b = await new_org(store), await new_org(store)
    orgs = await store.list_orgs()
    assert a in orgs and b in orgs
    assert orgs.index(a) < orgs.index(b)


# -- gateway keys ----------------------------------------------------------------------------------------


async def test_create_find_list_keys(store: SQLStore, clock: list[int]) -> None:
    org, other = await new_org(store), await new_org(store)
    h1, h2, h3 = uid() + uid(), uid() + uid(), uid() + uid()
    k1 = await store.create_key(org.id, h1, "sk-sy-abcd", "ci")
    k2 = await store.create_key(org.id, h2, "sk-sy-efgh", None)
    k3 = await store.create_key(other.id, h3, "sk-sy-ijkl", "other")
    assert k1.active and k1.org_id == org.id and k1.name == "ci" and k1.prefix == "sk-sy-abcd"
    assert await store.find_key_by_hash(h1) == k1
    assert await store.find_key_by_hash(h2) == k2
    assert await store.find_key_by_hash(uid()) is None
    assert await store.list_keys(org.id) == [k1, k2]
    assert await store.list_keys(other.id) == [k3]
    everything = await store.list_keys()
    assert {k1, k2, k3} <= set(everything)


async def test_revoke_key(store: SQLStore, clock: list[int]) -> None:
    org = await new_org(store)
    h = uid() + uid()
    key = await store.create_key(org.id, h, "sk-sy-abcd", None)
    revoked = await store.revoke_key(key.id)
    assert revoked.id == key.id and revoked.revoked_at is not None and not revoked.active
    found = await store.find_key_by_hash(h)
    assert found is not None and not found.active
    again = await store.revoke_key(key.id)
    assert again.revoked_at == revoked.revoked_at, "revoking twice must keep the first revocation time"


async def test_revoke_unknown_key_is_not_found(store: SQLStore) -> None:
    with pytest.raises(NotFound):
        await store.revoke_key(str(uuid.uuid4()))


async def test_keys_revision_changes_on_create_and_revoke(store: SQLStore, clock: list[int]) -> None:
    org = await new_org(store)
    r0 = await store.keys_revision()
    key = await store.create_key(org.id, uid() + uid(), "sk-sy-abcd", None)
    r1 = await store.keys_revision()
    assert r1 != r0
    await store.revoke_key(key.id)
    r2 = await store.keys_revision()
    assert r2 != r1
    assert await store.keys_revision() == r2, "the revision must be stable while nothing changes"
    await store.revoke_key(key.id)  # a no-op revoke
    assert await store.keys_revision() == r2


async def test_keys_revision_changes_on_revoke_in_the_same_millisecond(
    store: SQLStore, clock: list[int]
) -> None:
    org = await new_org(store)
    clock[1] = 0  # freeze the store's clock: create and revoke land in the same millisecond
    key = await store.create_key(org.id, uid() + uid(), "sk-sy-abcd", None)
    before = await store.keys_revision()
    await store.revoke_key(key.id)
    assert await store.keys_revision() != before


# -- request log: insert / get ---------------------------------------------------------------------------


async def test_insert_and_get_request_round_trip(store: SQLStore) -> None:
    org = await new_org(store)
    r = rec(
        org.id,
        model="gpt-4o-mini",
        provider="openai",
        stream=True,
        user_id="u1",
        session_id="s1",
        properties={"env": "prod", "app": "web"},
        attempts=[{"provider": "openai", "status": 200}],
    )
    await store.insert_requests([r])
    got = await store.get_request(org.id, r["id"])
    assert got is not None
    assert got["id"] == r["id"] and got["org_id"] == org.id
    assert got["model"] == "gpt-4o-mini" and got["provider"] == "openai" and got["status"] == 200
    assert got["stream"] is True and got["cache_hit"] is False
    assert got["created_at"] == T0 and got["prompt_tokens"] == 10 and got["cost_usd"] == pytest.approx(0.0001)
    assert got["properties"] == {"env": "prod", "app": "web"}
    assert got["attempts"] == [{"provider": "openai", "status": 200}]
    assert got["request_body"] == r["request_body"] and got["response_body"] == r["response_body"]


async def test_get_request_is_org_scoped(store: SQLStore) -> None:
    org, other = await new_org(store), await new_org(store)
    r = rec(org.id)
    await store.insert_requests([r])
    assert await store.get_request(other.id, r["id"]) is None
    assert await store.get_request(org.id, str(uuid.uuid4())) is None
    assert (await store.get_request(org.id, r["id"]) or {}).get("id") == r["id"]


async def test_insert_empty_batch_is_a_no_op(store: SQLStore) -> None:
    await store.insert_requests([])


async def test_insert_is_idempotent_on_id(store: SQLStore) -> None:
    org = await new_org(store)
    r = rec(org.id, model="gpt-4o-mini", properties={"env": "prod"})
    await store.insert_requests([r])
    await store.insert_requests([r])
    rows = await store.query_requests(RequestQuery(org_id=org.id))
    assert [x["id"] for x in rows] == [r["id"]]
    by_prop = await store.query_requests(
        RequestQuery(org_id=org.id, filter={"properties": {"env": {"equals": "prod"}}})
    )
    assert [x["id"] for x in by_prop] == [r["id"]]


async def test_reinsert_with_other_fields_keeps_the_first_record(store: SQLStore) -> None:
    org = await new_org(store)
    r = rec(org.id, model="gpt-4o-mini", properties={"env": "prod"})
    await store.insert_requests([r])
    await store.insert_requests([{**r, "model": "changed", "properties": {"env": "dev"}}])
    rows = await store.query_requests(RequestQuery(org_id=org.id))
    assert [(x["id"], x["model"], x["properties"]) for x in rows] == [
        (r["id"], "gpt-4o-mini", {"env": "prod"})
    ]
    dev = await store.query_requests(
        RequestQuery(org_id=org.id, filter={"properties": {"env": {"equals": "dev"}}})
    )
    assert dev == []


async def test_reinsert_with_new_property_does_not_change_property_matches(store: SQLStore) -> None:
    org = await new_org(store)
    r = rec(org.id, properties={"env": "prod"})
    await store.insert_requests([r])
    await store.insert_requests([{**r, "properties": {"env": "prod", "extra": "1"}}])
    extra = await store.query_requests(
        RequestQuery(org_id=org.id, filter={"properties": {"extra": {"equals": "1"}}})
    )
    assert [x["properties"] for x in extra] == []


async def test_insert_duplicate_ids_within_one_batch(store: SQLStore) -> None:
    org = await new_org(store)
    r = rec(org.id, properties={"env": "prod"})
    other = rec(org.id)
    await store.insert_requests([r, other, r])
    rows = await store.query_requests(RequestQuery(org_id=org.id))
    assert sorted(x["id"] for x in rows) == sorted([r["id"], other["id"]])


async def test_properties_are_filterable(store: SQLStore) -> None:
    org = await new_org(store)
    r = rec(org.id, properties={"env": "prod", "n": 3})
    await store.insert_requests([r])
    for f in (
        {"properties": {"env": {"equals": "prod"}}},
        {"properties": {"n": {"equals": "3"}}},  # values are stored as text
        {"request_response_rmt": {"properties": {"env": {"equals": "prod"}}}},
        {"request": {"request_properties": {"env": {"contains": "ro"}}}},
    ):
        rows = await store.query_requests(RequestQuery(org_id=org.id, filter=f))
        assert [x["id"] for x in rows] == [r["id"]], f


async def test_property_with_capitals_is_filterable(store: SQLStore) -> None:
    org = await new_org(store)
    r = rec(org.id, properties={"Env": "prod"})
    await store.insert_requests([r])
    rows = await store.query_requests(
        RequestQuery(org_id=org.id, filter={"properties": {"Env": {"equals": "prod"}}})
    )
    assert [x["id"] for x in rows] == [r["id"]]


async def test_a_record_the_schema_rejects_is_not_store_unavailable(store: SQLStore) -> None:
    org = await new_org(store)
    good, bad = rec(org.id), rec(org.id, path=None)  # requests.path is NOT NULL
    rejected = await store.insert_requests([good, bad])  # not StoreUnavailable: no retry could fix it
    assert [r["id"] for r in rejected] == [bad["id"]]
    assert await store.get_request(org.id, good["id"]) is not None, "the good records of the batch are kept"


# -- request log: query ----------------------------------------------------------------------------------


async def test_query_all_newest_first_by_default(store: SQLStore, log: Log) -> None:
    assert await names(store, log) == ["r6", "r5", "r4", "r3", "r2", "r1"]
    assert await names(store, log, None) == ["r6", "r5", "r4", "r3", "r2", "r1"]
    assert await names(store, log, "none") == []


@pytest.mark.parametrize(
    ("column", "op", "value", "expected"),
    [
        ("model", "equals", "gpt-4o-mini", {"r1"}),
        ("model", "not-equals", "gpt-4o-mini", {"r2", "r3", "r4", "r5", "r6"}),
        ("model", "contains", "gpt-4o", {"r1", "r2", "r6"}),  # case-insensitive
        ("model", "contains", "3%x", {"r5"}),  # LIKE wildcards in the value are literal
        ("model", "contains", "_", {"r5"}),
        ("model", "not-contains", "gpt", {"r3", "r4", "r5"}),
        ("model", "in", ["gpt-4o", "claude-sonnet-4"], {"r2", "r3"}),
        ("model", "ilike", "GPT-4O%", {"r1", "r2", "r6"}),
        ("response_model", "equals", "gpt-4o", {"r2"}),
        ("provider", "equals", "openai", {"r1", "r2"}),
        ("provider", "in", ["anthropic", "my-vllm"], {"r3", "r5"}),
        ("status", "equals", 200, {"r1", "r3", "r5"}),
        ("status", "gte", 429, {"r2", "r4"}),
        ("status", "lte", 400, {"r1", "r3", "r5", "r6"}),
        ("status", "gt", 400, {"r2", "r4"}),
        ("status", "lt", 400, {"r1", "r3", "r5"}),
        ("response_status", "not-equals", 200, {"r2", "r4", "r6"}),
        ("user_id", "equals", "alice", {"r1", "r3"}),
        ("request_user_id", "in", ["bob", "carol"], {"r2", "r4"}),
        ("user_id", "contains", "AL", {"r1", "r3"}),
        ("session_id", "equals", "s1", {"r1", "r2"}),
        ("session_id", "in", ["s2", "s3"], {"r3", "r5", "r6"}),
        ("created_at", "gte", T0 + 2000, {"r3", "r4", "r5", "r6"}),
        ("created_at", "lte", T0 + 1000, {"r1", "r2"}),
        ("created_at", "gte", iso(T0 + 4000), {"r5", "r6"}),
        ("request_created_at", "lte", iso(T0 + 1000), {"r1", "r2"}),
        ("created_at", "lt", "2023-11-14T22:13:21.500+00:00", {"r1", "r2"}),
        ("created_at", "equals", iso(T0 + 3000), {"r4"}),
        ("created_at", "in", [iso(T0), T0 + 5000], {"r1", "r6"}),
        ("request_id", "in", [], set()),
        ("error", "equals", "boom", {"r4"}),
    ],
)
async def test_filter_leaf(
    store: SQLStore, log: Log, column: str, op: str, value: Any, expected: set[str]
) -> None:
    assert await matching(store, log, leaf(column, op, value)) == expected


@pytest.mark.parametrize(
    "table", ["request_response_rmt", "request", "response", "request_response_log", "requests"]
)
async def test_filter_tables(store: SQLStore, log: Log, table: str) -> None:
    assert await matching(store, log, leaf("provider", "equals", "openai", table)) == {"r1", "r2"}


async def test_like_is_case_sensitive_on_every_backend(store: SQLStore, log: Log) -> None:
    assert await matching(store, log, leaf("model", "like", "gpt-4o%")) == {"r1", "r2"}


async def test_filter_by_request_id(store: SQLStore, log: Log) -> None:
    assert await matching(store, log, leaf("request_id", "equals", log.ids["r4"])) == {"r4"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"env": {"equals": "prod"}}, {"r1", "r3"}),
        ({"env": {"not-equals": "prod"}}, {"r2", "r6"}),  # rows without the property do not match
        ({"env": {"in": ["dev", "staging"]}}, {"r2", "r6"}),
        ({"env": {"contains": "STAG"}}, {"r6"}),
        ({"env": {"equals": "prod"}, "team": {"equals": "core"}}, {"r1"}),
        ({"team": {"equals": "ml"}}, {"r5"}),
        ({"nope": {"equals": "prod"}}, set()),
    ],
)
async def test_filter_properties(store: SQLStore, log: Log, spec: dict[str, Any], expected: set[str]) -> None:
    assert await matching(store, log, {"properties": spec}) == expected


async def test_filter_and_or_trees(store: SQLStore, log: Log) -> None:
    openai = leaf("provider", "equals", "openai")
    ok = leaf("status", "equals", 200)
    alice = leaf("user_id", "equals", "alice")
    prod = {"properties": {"env": {"equals": "prod"}}}
    assert await matching(store, log, {"left": openai, "operator": "and", "right": ok}) == {"r1"}
    assert await matching(store, log, {"left": openai, "operator": "or", "right": ok}) == {
        "r1",
        "r2",
        "r3",
        "r5",
    }
    nested = {
        "left": {"left": openai, "operator": "or", "right": alice},
        "operator": "and",
        "right": {"left": prod, "operator": "or", "right": leaf("status", "gte", 429)},
    }
    assert await matching(store, log, nested) == {"r1", "r2", "r3"}
    assert await matching(store, log, {"left": "all", "operator": "and", "right": ok}) == {"r1", "r3", "r5"}
    # Several columns in one leaf are and-ed.
    assert await matching(
        store, log, {"request": {"provider": {"equals": "openai"}, "status": {"equals": 429}}}
    ) == {"r2"}


async def test_sort_and_paging(store: SQLStore, log: Log) -> None:
    asc = [("created_at", "asc")]
    assert await names(store, log, sort=asc) == ["r1", "r2", "r3", "r4", "r5", "r6"]
    assert await names(store, log, sort=[("created_at", "desc")]) == ["r6", "r5", "r4", "r3", "r2", "r1"]
    assert await names(store, log, sort=asc, limit=2) == ["r1", "r2"]
    assert await names(store, log, sort=asc, limit=2, offset=2) == ["r3", "r4"]
    assert await names(store, log, sort=asc, limit=10, offset=5) == ["r6"]
    assert await names(store, log, sort=asc, offset=6) == []
    by_status = await names(store, log, sort=[("status", "desc"), ("created_at", "asc")])
    assert by_status == ["r4", "r2", "r6", "r1", "r3", "r5"]


async def test_is_cached(store: SQLStore, log: Log) -> None:
    assert set(await names(store, log, is_cached=True)) == {"r2"}
    assert set(await names(store, log, is_cached=False)) == {"r1", "r3", "r4", "r5", "r6"}
    assert len(await names(store, log, is_cached=None)) == 6


async def test_include_bodies(store: SQLStore, log: Log) -> None:
    with_bodies = await store.query_requests(log.q(limit=1))
    assert with_bodies[0]["request_body"] and with_bodies[0]["response_body"]
    without = await store.query_requests(log.q(limit=1, include_bodies=False))
    assert "request_body" not in without[0] and "response_body" not in without[0]
    assert without[0]["properties"] == {"env": "staging"}


async def test_org_isolation(store: SQLStore, log: Log) -> None:
    mine = await store.query_requests(log.q())
    theirs = await store.query_requests(RequestQuery(org_id=log.other.id))
    assert len(mine) == 6 and len(theirs) == 6
    assert not {r["id"] for r in mine} & {r["id"] for r in theirs}
    assert all(r["org_id"] == log.other.id for r in theirs)
    for f in (
        {"properties": {"env": {"equals": "prod"}}},
        {"left": leaf("provider", "equals", "openai"), "operator": "or", "right": "all"},
    ):
        assert all(r["org_id"] == log.org.id for r in await store.query_requests(log.q(f)))
    for name in ROWS:
        assert await store.get_request(log.other.id, log.ids[name]) is None
    nobody = await store.query_requests(RequestQuery(org_id=str(uuid.uuid4())))
    assert nobody == []


@pytest.mark.parametrize(
    "bad",
    [
        {"bogus_table": {"model": {"equals": "x"}}},
        {"request_response_rmt": {"bogus_column": {"equals": "x"}}},
        {"request_response_rmt": {"model": {"regex": "x"}}},
        {"request_response_rmt": {"model": {"equals": "x", "contains": "y"}}},
        {"request_response_rmt": {"model": "x"}},
        {"request_response_rmt": {}},
        {"request_response_rmt": {"model": {"in": "x"}}},
        {"request_response_rmt": {"model": {"contains": 3}}},
        {"request_response_rmt": {"created_at": {"gte": "yesterday"}}},
        {"properties": {}},
        {"properties": {"env": {"regex": "x"}}},
        {"left": "all", "operator": "xor", "right": "all"},
        {"left": "all", "operator": "and"},
        "everything",
        ["all"],
    ],
)
async def test_filter_errors(store: SQLStore, log: Log, bad: Any) -> None:
    with pytest.raises(FilterError):
        await store.query_requests(log.q(bad))


async def test_sort_by_unknown_field_is_a_filter_error(store: SQLStore, log: Log) -> None:
    with pytest.raises(FilterError):
        await store.query_requests(log.q(sort=[("bogus", "asc")]))


async def test_deeply_nested_filter_is_rejected(store: SQLStore, log: Log) -> None:
    node: Any = leaf("status", "equals", 200)
    for _ in range(70):
        node = {"left": node, "operator": "and", "right": "all"}
    with pytest.raises(FilterError):
        await store.query_requests(log.q(node))


async def test_naive_iso_time_is_utc(store: SQLStore, log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset")
    monkeypatch.setenv("TZ", "EST5")  # POSIX rule (UTC-5), no tz database needed
    time.tzset()
    try:
        naive = iso(T0 + 4000).removesuffix("Z")  # 2023-11-14T22:13:24, meant as UTC like every stored time
        got = await matching(store, log, leaf("created_at", "gte", naive))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert got == {"r5", "r6"}


# -- unavailable store -----------------------------------------------------------------------------------


DEAD_PG = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1


@pytest.fixture
async def dead_store():
    s = SQLStore(DEAD_PG)
    yield s
    await s.close()


async def test_unreachable_store_ping_raises_store_unavailable(dead_store: SQLStore) -> None:
    with pytest.raises(StoreUnavailable):
        await dead_store.ping()


async def test_unreachable_store_insert_raises_store_unavailable(dead_store: SQLStore) -> None:
    with pytest.raises(StoreUnavailable):
        await dead_store.insert_requests([rec(str(uuid.uuid4()))])


async def test_unreachable_store_find_key_raises_store_unavailable(dead_store: SQLStore) -> None:
    with pytest.raises(StoreUnavailable):
        await dead_store.find_key_by_hash("0" * 64)
