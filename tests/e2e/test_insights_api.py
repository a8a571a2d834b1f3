"""Helicone's REST API for the dashboard's data through a real gateway: request counts, feedback, scores and
properties on logged requests (and filters on them), sessions and users — each scoped to the caller's
organisation: another organisation's ids are 404s and its lists come back empty."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest


def chat(gateway, headers: dict) -> str:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions", json=body, headers={**gateway.headers(), **headers}, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.headers["helicone-id"]


def post(gateway, path: str, body: dict | None = None, key: str | None = None, method: str = "POST"):
    return httpx.request(method, f"{gateway.url}{path}", json=body, headers=gateway.headers(key), timeout=30)


@pytest.fixture(scope="module")
def seeded(gateway):
    run = f"ins-{uuid.uuid4().hex[:10]}"
    sid = f"{run}-session"
    ids = []
    for i, path in enumerate(["/plan", "/plan/search", "/plan/search", "/answer"]):
        ids.append(
            chat(
                gateway,
                {
                    "Helicone-Property-Run": run,
                    "Helicone-User-Id": f"{run}-u{i % 2}",
                    "Helicone-Session-Id": sid,
                    "Helicone-Session-Path": path,
                    "Helicone-Session-Name": "trip planner",
                },
            )
        )
    for rid in ids:
        gateway.wait_row(rid)
    deadline = time.time() + 10  # rollups and sessions land in the same transaction as the rows
    while time.time() < deadline:
        if post(gateway, "/v1/session/query", {"search": sid}).json()["data"]:
            break
        time.sleep(0.1)
    return run, sid, ids


def run_filter(run: str, other: dict | None = None) -> dict:
    leaf = {"properties": {"run": {"equals": run}}}
    return leaf if other is None else {"left": leaf, "operator": "and", "right": other}


def test_count_query(gateway, seeded):
    run, _, _ = seeded
    r = post(gateway, "/v1/request/count/query", {"filter": run_filter(run)})
    assert r.status_code == 200 and r.json() == {"data": 4, "error": None}
    r = post(gateway, "/v1/request/count/query", {"filter": run_filter(run), "isCached": True})
    assert r.json()["data"] == 0
    assert post(gateway, "/v1/request/count/query", {"filter": {"nope": {}}}).status_code == 400


def test_feedback_scores_and_property_are_stored_and_filterable(gateway, seeded):
    run, _, ids = seeded
    r = post(gateway, f"/v1/request/{ids[0]}/feedback", {"rating": True})
    assert r.status_code == 200 and r.json() == {"data": None, "error": None}
    assert post(gateway, f"/v1/request/{ids[1]}/feedback", {"rating": False}).status_code == 200
    assert post(gateway, f"/v1/request/{ids[1]}/feedback", {"rating": True}).status_code == 200  # changed
    good = gateway.query({"filter": run_filter(run, {"feedback": {"rating": {"equals": True}}})})
    assert {x["request_id"] for x in good} == {ids[0], ids[1]}
    assert all(x["feedback_rating"] is True and x["feedback_created_at"] for x in good)
    assert gateway.query({"filter": run_filter(run, {"feedback": {"rating": {"equals": False}}})}) == []

    r = post(gateway, f"/v1/request/{ids[2]}/score", {"scores": {"accuracy": 0.9, "grounded": True}})
    assert r.status_code == 200 and r.json() == {"data": None, "error": None}
    hits = gateway.query({"filter": run_filter(run, {"scores": {"accuracy": {"gte": 0.5}}})})
    assert [x["request_id"] for x in hits] == [ids[2]]
    assert hits[0]["scores"] == {"accuracy": 0.9, "grounded": 1.0}
    one = httpx.get(f"{gateway.url}/v1/request/{ids[2]}", headers=gateway.headers()).json()["data"]
    assert one["scores"] == {"accuracy": 0.9, "grounded": 1.0} and one["feedback_rating"] is None
    assert gateway.query({"filter": run_filter(run, {"scores": {"accuracy": {"lt": 0.5}}})}) == []

    r = post(gateway, f"/v1/request/{ids[3]}/property", {"key": "Reviewed", "value": "yes"}, method="PUT")
    assert r.status_code == 200 and r.json() == {"data": None, "error": None}
    rows = gateway.query({"filter": run_filter(run, {"properties": {"reviewed": {"equals": "yes"}}})})
    assert [x["request_id"] for x in rows] == [ids[3]]
    assert rows[0]["request_properties"]["reviewed"] == "yes"


def test_bad_annotations_are_400(gateway, seeded):
    _, _, ids = seeded
    for path, body, method in (
        (f"/v1/request/{ids[0]}/feedback", {"rating": "yes"}, "POST"),
        (f"/v1/request/{ids[0]}/feedback", None, "POST"),
        (f"/v1/request/{ids[0]}/score", {"scores": {}}, "POST"),
        (f"/v1/request/{ids[0]}/score", {"scores": {"x": "high"}}, "POST"),
        (f"/v1/request/{ids[0]}/property", {"key": "", "value": "v"}, "PUT"),
        (f"/v1/request/{ids[0]}/property", {"key": "k", "value": 3}, "PUT"),
    ):
        r = post(gateway, path, body, method=method)
        assert r.status_code == 400, (path, body, r.text)
        assert r.json()["error"]["message"]
    r = httpx.post(f"{gateway.url}/v1/request/{ids[0]}/feedback", json={"rating": True})
    assert r.status_code == 401


def test_sessions(gateway, seeded):
    run, sid, ids = seeded
    data = post(
        gateway,
        "/v1/session/query",
        {
            "search": run,
            "timeFilter": {
                "startTimeUnixMs": (time.time() - 3600) * 1000,
                "endTimeUnixMs": (time.time() + 60) * 1000,
            },
            "timezoneDifference": 0,
            "filter": "all",
        },
    ).json()["data"]
    assert [s["session_id"] for s in data] == [sid]
    s = data[0]
    assert s["total_requests"] == 4 and s["session_name"] == "trip planner"
    assert set(s) >= {
        "created_at",
        "latest_request_created_at",
        "total_cost",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "avg_latency",
        "user_ids",
    }
    flt = {"sessions_request_response_rmt": {"session_total_requests": {"gte": 4}}}
    assert [
        x["session_id"]
        for x in post(gateway, "/v1/session/query", {"search": run, "filter": flt}).json()["data"]
    ] == [sid]
    metrics = post(gateway, "/v1/session/metrics/query", {"nameContains": run}).json()["data"]
    assert metrics["average"]["session_count"] == [{"average": 4.0}]

    one = httpx.get(f"{gateway.url}/v1/session/{sid}", headers=gateway.headers()).json()["data"]
    assert [r["request_id"] for r in one["requests"]] == ids
    tree = {n["path"]: n for n in one["tree"]}
    assert set(tree) == {"/plan", "/answer"}
    assert tree["/plan"]["children"][0]["path"] == "/plan/search"
    assert tree["/plan"]["children"][0]["request_ids"] == ids[1:3]


def test_users(gateway, seeded):
    run, _, _ = seeded
    data = post(gateway, "/v1/user/query", {"userIds": [f"{run}-u0", f"{run}-u1"]}).json()["data"]
    assert sorted((u["user_id"], u["count"]) for u in data) == [(f"{run}-u0", 2), (f"{run}-u1", 2)]
    assert all(u["cost"] > 0 and u["prompt_tokens"] > 0 for u in data)
    body = {
        "filter": {"users_view": {"user_user_id": {"contains": run}}},
        "offset": 0,
        "limit": 10,
        "sort": {"user_id": "asc"},
    }
    m = post(gateway, "/v1/user/metrics/query", body).json()["data"]
    assert m["count"] == 2 and m["hasUsers"] is True
    assert [u["user_id"] for u in m["users"]] == [f"{run}-u0", f"{run}-u1"]
    assert m["users"][0]["total_requests"] == 2 and m["users"][0]["active_for"] >= 1
    bad = post(gateway, "/v1/user/metrics/query", {"filter": {"x": 1}, "offset": 0, "limit": 1})
    assert bad.status_code == 400


def test_another_organisation_sees_nothing(gateway, seeded):
    run, sid, ids = seeded
    other = gateway.new_key(f"other-{uuid.uuid4().hex[:6]}")
    for rid in (ids[0], str(uuid.uuid4()), "not-a-uuid"):
        for path, body, method in (
            (f"/v1/request/{rid}/feedback", {"rating": False}, "POST"),
            (f"/v1/request/{rid}/score", {"scores": {"x": 1}}, "POST"),
            (f"/v1/request/{rid}/property", {"key": "k", "value": "v"}, "PUT"),
        ):
            key = other if rid == ids[0] else None
            r = post(gateway, path, body, key=key, method=method)
            assert r.status_code == 404, (path, rid, r.text)
            assert r.json()["error"]["code"] == "request_not_found"
    assert httpx.get(f"{gateway.url}/v1/session/{sid}", headers=gateway.headers(other)).status_code == 404
    assert (
        post(gateway, "/v1/request/count/query", {"filter": run_filter(run)}, key=other).json()["data"] == 0
    )
    assert post(gateway, "/v1/session/query", {"search": run}, key=other).json()["data"] == []
    assert post(gateway, "/v1/user/query", {"userIds": [f"{run}-u0"]}, key=other).json()["data"] == []
    m = post(gateway, "/v1/user/metrics/query", {"filter": "all", "offset": 0, "limit": 10}, key=other).json()
    assert m["data"] == {"users": [], "count": 0, "hasUsers": False}
    # and the other organisation's attempt changed nothing here
    assert gateway.query({"filter": run_filter(run, {"feedback": {"rating": {"equals": False}}})}) == []
    assert gateway.query({"filter": run_filter(run, {"properties": {"k": {"equals": "v"}}})}) == []
