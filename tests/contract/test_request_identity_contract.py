"""Request identity on every backend (SQLite and PostgreSQL, see conftest.py): rows keyed by (id, org_id), replays
idempotent, a reused id never loses a row, and no caller text makes a row unloggable or unfindable. Also the
query limits that live in the store (typed filter values, condition cap, body budget) and the 0003 migration
over a database an older release left behind.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from support.services import fresh_schema, require_postgres
from switchyard.stores import sql as sql_module
from switchyard.stores.base import Org, RequestQuery
from switchyard.stores.filters import MAX_CONDITIONS, FilterError
from switchyard.stores.sql import SQLStore


def rid() -> str:
    return str(uuid.uuid4())


async def new_org(store: SQLStore) -> Org:
    return await store.create_org(f"identity-{uuid.uuid4().hex}")


def rec(org_id: str, **kw: Any) -> dict[str, Any]:
    """A request record as pipeline/record.py makes it (fields not given are empty)."""
    return {
        "id": rid(),
        "org_id": org_id,
        "created_at": 1_700_000_000_000,
        "path": "/v1/chat/completions",
        "status": 200,
        "stream": False,
        "cache_hit": False,
        "request_body": "{}",
        "response_body": "{}",
        **kw,
    }


async def ids_in(store: SQLStore, org_id: str, filter: Any = "all") -> set[str]:
    return {
        r["id"] for r in await store.query_requests(RequestQuery(org_id=org_id, filter=filter, limit=1000))
    }


# -- keys ----------------------------------------------------------------------------------------------------


async def test_one_id_in_two_organisations_is_two_rows(store: SQLStore) -> None:
    a, b = await new_org(store), await new_org(store)
    x = rid()
    assert await store.insert_requests([rec(b.id, id=x, uid=rid(), model="b-model")]) == []
    assert await store.insert_requests([rec(a.id, id=x, uid=rid(), model="a-model")]) == []
    assert (await store.get_request(a.id, x))["model"] == "a-model"
    assert (await store.get_request(b.id, x))["model"] == "b-model"


async def test_replays_are_idempotent(store: SQLStore) -> None:
    org = await new_org(store)
    server_made = rec(org.id)  # no uid: as spooled by an older release (uid = id)
    chosen = rec(org.id, uid=rid(), properties={"env": "prod"})
    for _ in range(3):
        assert await store.insert_requests([server_made, chosen]) == []
    assert await ids_in(store, org.id) == {server_made["id"], chosen["id"]}
    assert await ids_in(store, org.id, {"properties": {"env": {"equals": "prod"}}}) == {chosen["id"]}


async def test_a_reused_id_in_one_organisation_keeps_both_rows(store: SQLStore) -> None:
    org = await new_org(store)
    x = rid()
    first = rec(org.id, id=x, uid=rid(), model="first", properties={"n": "1"})
    later = rec(org.id, id=x, uid=rid(), model="later", properties={"n": "2"})
    same_batch = rec(org.id, id=x, uid=rid(), model="same-batch")
    assert await store.insert_requests([first]) == []
    assert await store.insert_requests([later, same_batch]) == []
    for _ in range(2):  # replays of the moved records do not move them again
        assert await store.insert_requests([later, same_batch, first]) == []
    assert (await store.get_request(org.id, x))["model"] == "first"
    moved = await store.get_request(org.id, later["uid"])
    assert moved["model"] == "later" and moved["duplicate_of"] == x and moved["properties"] == {"n": "2"}
    assert (await store.get_request(org.id, same_batch["uid"]))["duplicate_of"] == x
    assert await ids_in(store, org.id) == {x, later["uid"], same_batch["uid"]}
    dup = await ids_in(store, org.id, {"request": {"duplicate_of": {"equals": x}}})
    assert dup == {later["uid"], same_batch["uid"]}
    assert await ids_in(store, org.id, {"properties": {"n": {"equals": "2"}}}) == {later["uid"]}


async def test_concurrent_writers_with_one_id_lose_no_row(store: SQLStore) -> None:
    """Two stores (two processes or replicas) write records with the same ids at the same moment."""
    org = await new_org(store)
    ids = [rid() for _ in range(40)]
    other = SQLStore(store.url, schema=store.schema)
    try:
        batches = [[rec(org.id, id=i, uid=rid(), model=f"w{w}") for i in ids] for w in range(2)]
        results = await asyncio.gather(store.insert_requests(batches[0]), other.insert_requests(batches[1]))
    finally:
        await other.close()
    assert results == [[], []]
    rows = await store.query_requests(RequestQuery(org_id=org.id, limit=1000))
    assert len(rows) == 80
    assert {r["uid"] for r in rows} == {r["uid"] for b in batches for r in b}


# -- text a caller chose -------------------------------------------------------------------------------------


async def test_nul_bytes_are_stored_and_found(store: SQLStore) -> None:
    org = await new_org(store)
    r = rec(
        org.id,
        model="gpt\x00x",
        requested_model="gpt\x00x",
        user_id="u\x00",
        error="e\x00",
        request_body="not json \x00",
        response_body="\x00",
        properties={"p\x00": "v\x00"},
    )
    assert await store.insert_requests([r]) == []
    row = await store.get_request(org.id, r["id"])
    assert row["model"] == "gpt\ufffdx" and row["request_body"] == "not json \ufffd"
    assert row["properties"] == {"p\ufffd": "v\ufffd"}
    assert await ids_in(store, org.id, {"request": {"model": {"equals": "gpt\x00x"}}}) == {r["id"]}
    assert await ids_in(store, org.id, {"properties": {"p\x00": {"equals": "v\x00"}}}) == {r["id"]}


async def test_text_the_database_refuses_is_stored_in_a_storable_form(store: SQLStore) -> None:
    org = await new_org(store)
    surrogate = rec(org.id, model="bad \ud800 text", properties={"k": "\udfff"})
    long_user = rec(org.id, user_id=secrets.token_hex(4000), session_id=secrets.token_hex(2000))
    assert await store.insert_requests([surrogate, long_user]) == []
    assert (await store.get_request(org.id, surrogate["id"]))["model"] == "bad ? text"
    assert (await store.get_request(org.id, long_user["id"])) is not None


async def test_long_property_names_and_values_are_whole_and_filterable(store: SQLStore) -> None:
    org = await new_org(store)
    name = "n" * 200 + secrets.token_hex(150)  # a name longer than the old 200-character cut
    value = secrets.token_hex(4000)  # an index entry PostgreSQL would refuse
    r = rec(org.id, properties={name: value, "short": "v"})
    twin = rec(org.id, properties={"n" * 200: value})  # the old cut of `name`
    assert await store.insert_requests([r, twin]) == []
    assert (await store.get_request(org.id, r["id"]))["properties"][name] == value
    assert await ids_in(store, org.id, {"properties": {name: {"equals": value}}}) == {r["id"]}
    assert await ids_in(store, org.id, {"properties": {name.upper(): {"in": [value, "x"]}}}) == {r["id"]}
    assert await ids_in(store, org.id, {"properties": {name: {"contains": value[100:200]}}}) == {r["id"]}
    assert await ids_in(store, org.id, {"properties": {"n" * 200: {"equals": value}}}) == {twin["id"]}


# -- query limits --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filt",
    [
        {"request": {"status": {"equals": {"a": 1}}}},
        {"request": {"status": {"equals": "abc"}}},
        {"request": {"status": {"equals": 2**40}}},
        {"request": {"status": {"equals": 1.5}}},
        {"request": {"status": {"like": "2%"}}},
        {"request": {"latency": {"gt": "fast"}}},
        {"request": {"cache_hit": {"equals": 1}}},
        {"request": {"model": {"equals": ["a"]}}},
        {"request": {"model": {"in": [{"a": 1}]}}},
        {"request": {"created_at": {"gte": "yesterday"}}},
        {"properties": {"env": {"equals": True}}},
    ],
)
async def test_values_that_do_not_fit_their_column_are_filter_errors(store: SQLStore, filt: Any) -> None:
    org = await new_org(store)
    with pytest.raises(FilterError):
        await store.query_requests(RequestQuery(org_id=org.id, filter=filt))


async def test_numbers_as_strings_and_null_are_read(store: SQLStore) -> None:
    org = await new_org(store)
    r = rec(org.id, status=429, user_id=None)
    await store.insert_requests([r])
    assert await ids_in(store, org.id, {"request": {"status": {"equals": "429"}}}) == {r["id"]}
    assert await ids_in(store, org.id, {"request": {"status": {"in": [429.0, 500]}}}) == {r["id"]}
    assert await ids_in(store, org.id, {"request": {"user_id": {"equals": None}}}) == {r["id"]}


def balanced(leaves: list[Any]) -> Any:
    if len(leaves) == 1:
        return leaves[0]
    mid = len(leaves) // 2
    return {"left": balanced(leaves[:mid]), "operator": "or", "right": balanced(leaves[mid:])}


async def test_a_filter_holds_at_most_max_conditions(store: SQLStore) -> None:
    org = await new_org(store)
    r = rec(org.id, model="m-7")
    await store.insert_requests([r])
    ok = balanced([{"request": {"model": {"equals": f"m-{i}"}}} for i in range(MAX_CONDITIONS)])
    assert await ids_in(store, org.id, ok) == {r["id"]}  # 1,000 leaves: no "expression tree is too large"
    props = balanced([{"properties": {f"p{i}": {"equals": "v"}}} for i in range(MAX_CONDITIONS)])
    assert await ids_in(store, org.id, props) == set()
    too_many = balanced([{"request": {"model": {"equals": f"m-{i}"}}} for i in range(MAX_CONDITIONS + 1)])
    with pytest.raises(FilterError, match="at most 1000"):
        await store.query_requests(RequestQuery(org_id=org.id, filter=too_many))
    with pytest.raises(FilterError, match="at most 1000"):
        await store.query_requests(
            RequestQuery(org_id=org.id, filter={"request": {"model": {"in": ["x"] * 1001}}})
        )


async def test_a_page_spends_a_bounded_budget_on_bodies(store: SQLStore) -> None:
    org = await new_org(store)
    big = "x" * 300_000
    rows = [rec(org.id, created_at=1_000 + i, request_body=big, response_body="y") for i in range(10)]
    await store.insert_requests(rows)
    page = await store.query_requests(
        RequestQuery(org_id=org.id, sort=[("created_at", "asc")], limit=10, max_body_chars=1_000_000)
    )
    assert [r["id"] for r in page] == [r["id"] for r in rows]
    whole = [r for r in page if not r.get("bodies_omitted")]
    assert len(whole) == 3 and all(r["request_body"] == big for r in whole)
    assert all(r["request_body"] is None and r["response_body"] is None for r in page[3:])
    assert all(r.get("bodies_omitted") for r in page[3:])
    unbounded = await store.query_requests(RequestQuery(org_id=org.id, limit=10))
    assert all(r["request_body"] == big for r in unbounded)
    bare = await store.query_requests(RequestQuery(org_id=org.id, limit=10, include_bodies=False))
    assert all("request_body" not in r for r in bare)


# -- the 0003 migration over existing data -------------------------------------------------------------------


async def _at(store: SQLStore, revision: str) -> None:
    cfg = sql_module.alembic_config()
    if store.schema:
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{store.schema}"')
    async with store.engine.begin() as conn:

        def run(sync_conn: Any) -> None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, revision)

        await conn.run_sync(run)


_OLD_ROW = (
    "INSERT INTO requests (id, org_id, created_at, path, status, stream, cache_hit, model, user_id, "
    "properties, request_body) VALUES (:id, :org, :t, '/v1/chat/completions', 200, false, false, :model, "
    ":user, :props, :body)"
)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_upgrade_from_0002_keeps_the_log_and_its_properties(backend: str, tmp_path: Any) -> None:
    schema = None
    if backend == "sqlite":
        store = SQLStore(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        schema = fresh_schema("sy_upgrade3")
        store = SQLStore(require_postgres(), schema=schema)
    x, y = rid(), rid()
    try:
        await _at(store, "0002")
        async with store.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO organizations (id, name, created_at, updated_at) "
                    "VALUES ('o1', 'one', 1, 1), ('o2', 'two', 1, 1)"
                )
            )
            for i, (request_id, user) in enumerate(((x, "alice"), (y, None))):
                await conn.execute(
                    text(_OLD_ROW),
                    {
                        "id": request_id,
                        "org": "o1",
                        "t": 1000 + i,
                        "model": f"m{i}",
                        "user": user,
                        "props": '{"env":"prod"}',
                        "body": '{"a":1}',
                    },
                )
            for i in range(7):  # more than one page of the copy would be nice, but 5,000 rows is slow here
                await conn.execute(
                    text(
                        "INSERT INTO request_properties (request_id, key, org_id, value) "
                        "VALUES (:r, :k, 'o1', :v)"
                    ),
                    {"r": x, "k": f"k{i}", "v": f"v{i}"},
                )
            await conn.execute(
                text(
                    "INSERT INTO request_properties (request_id, key, org_id, value) "
                    "VALUES (:r, 'env', 'o1', 'prod')"
                ),
                {"r": y},
            )
        await store.migrate()

        row = await store.get_request("o1", x)
        assert row["uid"] == x and row["duplicate_of"] is None and row["user_id"] == "alice"
        assert row["request_body"] == '{"a":1}' and row["model"] == "m0"
        assert await ids_in(store, "o1", {"properties": {"k3": {"equals": "v3"}}}) == {x}
        assert await ids_in(store, "o1", {"properties": {"env": {"equals": "prod"}}}) == {y}
        assert await ids_in(store, "o1", {"request": {"user_id": {"equals": "alice"}}}) == {x}
        # the id is the organisation's own now: another organisation can log it too, and a replay does nothing
        assert await store.insert_requests([rec("o2", id=x, uid=rid(), model="other")]) == []
        assert await store.insert_requests([rec("o1", id=y)]) == []  # uid = id: the row the migration kept
        assert (await store.get_request("o2", x))["model"] == "other"
        assert await ids_in(store, "o1") == {x, y}
    finally:
        if schema:
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await store.close()
