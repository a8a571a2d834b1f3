"""Request identity and the query API's limits over a real gateway, on SQLite and on PostgreSQL.

* A Helicone-Request-Id is an organisation's own: another organisation using the same id touches nothing of it.
* Within one organisation, a request whose id is in flight is a 409 `duplicate_request_id` (before any upstream
  call, credits or not); a later reuse is served and logged under its own uid with `duplicate_of` — no row lost.
* No caller text makes a row unloggable or unfindable (NUL bytes, long property names).
* The query API is bounded: 1 MiB bodies (413), 1,000 filter conditions and typed values (400 in the OpenAI
  shape), ids that cannot exist are 404 without a query, bodies per page capped (`bodies_omitted`).
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.mock_upstream import MockUpstream
from support.services import drop_schema, fresh_schema, require_postgres

ADMIN_KEY = "request-ids-admin-key-0123456789abcdefghijklmnop"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def gw(
    request: pytest.FixtureRequest, upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    # organisations and keys are made over HTTP (the CLI is slow)
    extra: dict[str, Any] = {"admin": {"key": ADMIN_KEY}}
    schema = None
    if request.param == "postgres":
        schema = fresh_schema("sy_ids")
        extra["database"] = {"url": require_postgres(), "schema": schema}
    g = GatewayProcess(
        tmp_path_factory.mktemp(f"ids-{request.param}"), default_config(upstream.url, free_port(), **extra)
    )
    g.prepare()
    g.start()
    g.schema = schema  # type: ignore[attr-defined]
    try:
        yield g
    finally:
        g.stop()
        if schema:
            drop_schema(schema)


def chat(
    gw: GatewayProcess,
    key: str,
    rid: str | None = None,
    content: str = "hi",
    timeout: float = 30,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    h = {**gw.headers(key), **(headers or {})}
    if rid:
        h["Helicone-Request-Id"] = rid
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **body}
    return httpx.post(f"{gw.url}/v1/chat/completions", json=payload, headers=h, timeout=timeout)


def query(gw: GatewayProcess, key: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        f"{gw.url}/v1/request/query",
        content=content,
        timeout=60,
        headers={**gw.headers(key), "content-type": "application/json"},
    )


def openai_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["message"] and err["type"]
    if code is not None:
        assert err["code"] == code, err
    return err


def admin(gw: GatewayProcess, method: str, path: str, body: Any = None) -> Any:
    r = httpx.request(
        method,
        f"{gw.url}/admin/v1{path}",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert r.status_code < 300, r.text
    return r.json()


def org_key(gw: GatewayProcess, name: str, credits_usd: float | None = None) -> str:
    org = admin(gw, "POST", "/orgs", {"name": f"{name}-{uuid.uuid4().hex[:8]}"})
    if credits_usd is not None:
        admin(gw, "PATCH", f"/orgs/{org['id']}", {"credits_enabled": True})
        admin(gw, "POST", f"/orgs/{org['id']}/credits", {"amount_usd": credits_usd})
    return admin(gw, "POST", f"/orgs/{org['id']}/keys")["key"]


def wait_rows(gw: GatewayProcess, key: str, filt: Any, n: int, timeout: float = 15) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = gw.query({"filter": filt, "limit": 100}, key=key)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


# -- identity ------------------------------------------------------------------------------------------------


def test_one_id_in_two_organisations_is_logged_for_each(gw: GatewayProcess) -> None:
    a, b = org_key(gw, "ids-a"), org_key(gw, "ids-b")
    x = str(uuid.uuid4())
    rb = chat(gw, b, x, headers={"Helicone-Property-Who": "b"})  # the other organisation goes first
    ra = chat(gw, a, x, headers={"Helicone-Property-Who": "a"})
    assert rb.status_code == ra.status_code == 200
    assert ra.headers["helicone-id"] == rb.headers["helicone-id"] == x
    assert gw.wait_row(x, key=a)["request_properties"] == {"who": "a"}
    assert gw.wait_row(x, key=b)["request_properties"] == {"who": "b"}


def _in_parallel(upstream: MockUpstream, *calls: Any) -> list[httpx.Response]:
    """Start each call once the one before has reached the upstream (the first is slow there: 1 s), return their
    answers in order. (A fixed 0.3 s apart let a busy machine send the second first.)"""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        futures = []
        for call in calls:
            seen = len(upstream.seen)
            futures.append(pool.submit(call))
            deadline = time.monotonic() + 30
            while len(upstream.seen) == seen and time.monotonic() < deadline and not futures[-1].done():
                time.sleep(0.01)
        return [f.result() for f in futures]


def test_an_id_in_flight_in_the_organisation_is_409_and_a_later_reuse_keeps_both_rows(
    gw: GatewayProcess, upstream: MockUpstream
) -> None:
    key = org_key(gw, "ids-dup")
    x = str(uuid.uuid4())
    before = len(upstream.seen)
    first, second = _in_parallel(
        upstream,
        lambda: chat(gw, key, x, "[[slow]] first", headers={"Helicone-Property-Who": "first"}),
        lambda: chat(gw, key, x, "second", headers={"Helicone-Property-Who": "second"}),
    )
    assert first.status_code == 200, first.text
    err = openai_error(second, 409, "duplicate_request_id")
    assert x in err["message"]
    assert len(upstream.seen) - before == 1  # the duplicate never reached the upstream

    later = chat(gw, key, x, headers={"Helicone-Property-Who": "later"})  # the first is done: served
    assert later.status_code == 200 and later.headers["helicone-id"] == x

    assert gw.wait_row(x, key=key)["request_properties"] == {"who": "first"}
    dups = wait_rows(gw, key, {"request": {"duplicate_of": {"equals": x}}}, 2)
    assert sorted((r["response_status"], r["request_properties"]["who"]) for r in dups) == [
        (200, "later"),
        (409, "second"),
    ]
    for r in dups:
        assert r["duplicate_of"] == x and r["request_id"] != x
        assert gw.wait_row(r["request_id"], key=key)["request_id"] == r["request_id"]


def test_duplicate_ids_with_credits_are_never_503(gw: GatewayProcess, upstream: MockUpstream) -> None:
    keys = [org_key(gw, "ids-credits", credits_usd=5.0) for _ in range(2)]
    x = str(uuid.uuid4())
    same_org = _in_parallel(
        upstream,
        lambda: chat(gw, keys[0], x, "[[slow]] one", max_tokens=20),
        lambda: chat(gw, keys[0], x, "two", max_tokens=20),
    )
    assert same_org[0].status_code == 200, same_org[0].text
    openai_error(same_org[1], 409, "duplicate_request_id")
    y = str(uuid.uuid4())  # two organisations, one id, both holding credits at the same moment
    cross = _in_parallel(
        upstream,
        lambda: chat(gw, keys[0], y, "[[slow]] one", max_tokens=20),
        lambda: chat(gw, keys[1], y, "[[slow]] two", max_tokens=20),
    )
    assert [r.status_code for r in cross] == [200, 200], [r.text[:300] for r in cross]
    assert gw.wait_row(y, key=keys[0])["costUSD"] > 0 and gw.wait_row(y, key=keys[1])["costUSD"] > 0


def test_nul_bytes_and_long_property_names_leave_rows_findable(gw: GatewayProcess) -> None:
    key = org_key(gw, "ids-text")
    name = "a" * 200 + uuid.uuid4().hex * 4  # over the old 200-character cut
    ok = str(uuid.uuid4())
    r = chat(gw, key, ok, "hello\x00there", user="u\x00", headers={f"Helicone-Property-{name}": "v"})
    assert r.status_code == 200, r.text
    row = gw.wait_row(ok, key=key)
    assert row["request_user_id"] == "u\ufffd" and row["request_properties"] == {name: "v"}
    assert [
        x["request_id"] for x in gw.query({"filter": {"properties": {name: {"equals": "v"}}}}, key=key)
    ] == [ok]
    assert gw.query({"filter": {"properties": {name[:200]: {"equals": "v"}}}}, key=key) == []
    bad = str(uuid.uuid4())  # refused (400), and still logged and found
    raw = b'{"model": "gpt-4o-mini\\u0000", "messages": [{"role": "user", "content": "x"}]}'
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        content=raw,
        timeout=30,
        headers={**gw.headers(key), "content-type": "application/json", "Helicone-Request-Id": bad},
    )
    assert r.status_code == 400
    assert gw.wait_row(bad, key=key)["response_status"] == 400


# -- the query API's limits ----------------------------------------------------------------------------------


def test_query_bodies_over_1_mib_are_413(gw: GatewayProcess) -> None:
    body = orjson.dumps({"filter": "all", "pad": "x" * (1 << 20)})
    openai_error(query(gw, gw.key, body), 413, "request_too_large")


def balanced(leaves: list[Any]) -> Any:
    if len(leaves) == 1:
        return leaves[0]
    mid = len(leaves) // 2
    return {"left": balanced(leaves[:mid]), "operator": "or", "right": balanced(leaves[mid:])}


def test_filters_are_capped_and_typed(gw: GatewayProcess) -> None:
    leaves = [{"request": {"model": {"equals": f"m{i}"}}} for i in range(1001)]
    assert query(gw, gw.key, {"filter": balanced(leaves[:1000])}).status_code == 200
    openai_error(query(gw, gw.key, {"filter": balanced(leaves)}), 400, "invalid_filter")
    props = balanced([{"properties": {f"p{i}": {"equals": "v"}}} for i in range(1000)])
    assert query(gw, gw.key, {"filter": props}).status_code == 200
    for filt in (
        {"equals": {"a": 1}},
        {"request": {"status": {"equals": {"a": 1}}}},
        {"request": {"status": {"equals": "abc"}}},
        {"request": {"status": {"gte": 2**62}}},
        {"request": {"latency": {"like": "1%"}}},
        {"properties": {"env": {"in": [[1]]}}},
    ):
        openai_error(query(gw, gw.key, {"filter": filt}), 400)
    openai_error(query(gw, gw.key, {"filter": "all", "offset": 2**63}), 400)


def test_ids_that_cannot_exist_are_404(gw: GatewayProcess) -> None:
    for rid in ("%00", "x" * 400, "%ff", "%20", str(uuid.uuid4()), str(uuid.uuid4()).upper(), "..", "a%2fb"):
        r = httpx.get(f"{gw.url}/v1/request/{rid}", headers=gw.headers(), timeout=10)
        no_route = rid in ("..", "a%2fb")  # these two never reach the route
        openai_error(r, 404, None if no_route else "request_not_found")
    known = chat(gw, gw.key).headers["helicone-id"]
    gw.wait_row(known)
    assert (
        httpx.get(f"{gw.url}/v1/request/{known.upper()}", headers=gw.headers(), timeout=10).status_code == 200
    )


def test_a_page_of_big_bodies_stays_bounded(gw: GatewayProcess) -> None:
    key = org_key(gw, "ids-big")
    run = uuid.uuid4().hex
    big = "y" * 900_000  # near the gateway's 1 MiB request limit
    ids = [
        chat(gw, key, content=big, headers={"Helicone-Property-Run": run}).headers["helicone-id"]
        for _ in range(6)
    ]
    rows = wait_rows(gw, key, {"properties": {"run": {"equals": run}}}, 6)
    assert len(rows) == 6
    r = query(gw, key, {"filter": {"properties": {"run": {"equals": run}}}, "limit": 1000})
    assert r.status_code == 200
    assert len(r.content) < 4_500_000  # the page's body budget (4M characters) plus the rows' metadata
    page = r.json()["data"]
    omitted = [row for row in page if row.get("bodies_omitted")]
    assert omitted and len(omitted) < 6
    assert all(row["request_body"] is None for row in omitted)
    whole = gw.wait_row(omitted[0]["request_id"], key=key)  # GET by id has them
    assert whole["request_body"]["messages"][0]["content"] == big
    assert set(ids) == {row["request_id"] for row in page}
