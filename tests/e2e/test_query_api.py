"""The Helicone-style query API over a real gateway: filters, sort, paging, organisation isolation, omit headers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest


def chat(gateway, key: str | None = None, headers: dict | None = None, **body) -> str:
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **body}
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json=payload,
        headers={**gateway.headers(key), **(headers or {})},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.headers["helicone-id"]


@pytest.fixture(scope="module")
def seeded(gateway):
    run = f"run-{time.time_ns()}"
    ids = {
        "a": chat(
            gateway,
            headers={
                "Helicone-Property-Run": run,
                "Helicone-Property-Env": "prod",
                "Helicone-User-Id": "alice",
                "Helicone-Session-Id": f"{run}-s1",
            },
        ),
        "b": chat(
            gateway,
            headers={"Helicone-Property-Run": run, "Helicone-Property-Env": "dev", "Helicone-User-Id": "bob"},
        ),
        "c": chat(
            gateway,
            headers={
                "Helicone-Property-Run": run,
                "Helicone-Property-Env": "prod",
                "Helicone-User-Id": "alice",
                "Helicone-Session-Id": f"{run}-s1",
            },
            model="llama3/my-vllm",
        ),
    }
    for rid in ids.values():
        gateway.wait_row(rid)
    return run, ids


def q(gateway, filt, **extra):
    return gateway.query({"filter": filt, **extra})


def run_filter(run, other=None):
    leaf = {"properties": {"run": {"equals": run}}}
    return leaf if other is None else {"left": leaf, "operator": "and", "right": other}


def test_filters_on_properties_user_session_model_provider(gateway, seeded):
    run, ids = seeded
    assert {r["request_id"] for r in q(gateway, run_filter(run))} == set(ids.values())
    prod = q(gateway, run_filter(run, {"properties": {"env": {"equals": "prod"}}}))
    assert {r["request_id"] for r in prod} == {ids["a"], ids["c"]}
    bob = q(gateway, run_filter(run, {"request_response_rmt": {"user_id": {"equals": "bob"}}}))
    assert [r["request_id"] for r in bob] == [ids["b"]]
    sess = q(gateway, run_filter(run, {"request_response_rmt": {"session_id": {"equals": f"{run}-s1"}}}))
    assert {r["request_id"] for r in sess} == {ids["a"], ids["c"]}
    vllm = q(gateway, run_filter(run, {"request_response_rmt": {"provider": {"equals": "my-vllm"}}}))
    assert [r["request_id"] for r in vllm] == [ids["c"]]
    mini = q(gateway, run_filter(run, {"request": {"request_model": {"contains": "gpt-4o"}}}))
    assert {r["request_id"] for r in mini} == {ids["a"], ids["b"]}
    either = q(
        gateway,
        run_filter(
            run,
            {
                "left": {"request_response_rmt": {"user_id": {"equals": "bob"}}},
                "operator": "or",
                "right": {"request_response_rmt": {"provider": {"equals": "my-vllm"}}},
            },
        ),
    )
    assert {r["request_id"] for r in either} == {ids["b"], ids["c"]}
    ok = q(gateway, run_filter(run, {"response": {"status": {"equals": 200}}}))
    assert len(ok) == 3


def test_time_range_sort_and_paging(gateway, seeded):
    run, _ = seeded
    now = datetime.now(UTC)
    window = {
        "request_response_rmt": {"request_created_at": {"gte": (now - timedelta(minutes=10)).isoformat()}}
    }
    assert len(q(gateway, run_filter(run, window))) == 3
    future = {
        "request_response_rmt": {"request_created_at": {"gte": (now + timedelta(minutes=10)).isoformat()}}
    }
    assert q(gateway, run_filter(run, future)) == []
    asc = q(gateway, run_filter(run), sort={"created_at": "asc"})
    desc = q(gateway, run_filter(run), sort={"created_at": "desc"})
    assert [r["request_id"] for r in asc] == [r["request_id"] for r in reversed(desc)]
    page1 = q(gateway, run_filter(run), sort={"created_at": "asc"}, limit=2, offset=0)
    page2 = q(gateway, run_filter(run), sort={"created_at": "asc"}, limit=2, offset=2)
    assert [r["request_id"] for r in page1 + page2] == [r["request_id"] for r in asc]


def test_other_organisations_never_see_the_rows(gateway, seeded):
    run, ids = seeded
    other = gateway.new_key("other-org")
    assert gateway.query({"filter": run_filter(run)}, key=other) == []
    r = httpx.get(f"{gateway.url}/v1/request/{ids['a']}", headers=gateway.headers(other))
    assert r.status_code == 404 and r.json()["error"]["code"] == "request_not_found"


def test_bad_filters_are_400(gateway):
    for body in (
        {"filter": {"nope": {"x": {"equals": 1}}}},
        {"filter": {"request": {"model": {"resembles": "x"}}}},
        {"filter": "all", "limit": -1},
        {"filter": "all", "sort": {"created_at": "sideways"}},
    ):
        r = httpx.post(f"{gateway.url}/v1/request/query", json=body, headers=gateway.headers())
        assert r.status_code == 400, body
        assert r.json()["error"]["message"]
    r = httpx.post(f"{gateway.url}/v1/request/query", json={"filter": "all"})
    assert r.status_code == 401


def test_omit_request_and_response_bodies(gateway):
    rid = chat(gateway, headers={"Helicone-Omit-Request": "true", "Helicone-Omit-Response": "true"})
    row = gateway.wait_row(rid)
    assert row["request_body"] is None and row["response_body"] is None
    assert row["total_tokens"] == 51 and row["costUSD"] > 0  # metadata is still logged
