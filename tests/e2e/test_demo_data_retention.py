"""`switchyard demo-data`, log retention and the body-size cap, through a real gateway: demo traffic shows up in the
query, session and user APIs; with `log.retention_days` the gateway deletes what is older on its own; a body over
`log.max_body_bytes` is stored cut, with a marker."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from support.gateway import GatewayProcess, cli, default_config, free_port

DAY_MS = 86_400_000
# Demo data spans 30 days. Retention deletes rollups one bucket at a time with a pause between (stores/retention.py),
# so keeping 29 days leaves 1 day of buckets to purge (~25, a second or two) instead of 23 (~600, half a minute).
KEEP_DAYS = 29


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory):
    cfg = default_config(
        upstream.url,
        free_port(),
        log={"flush_interval_ms": 50, "retention_days": KEEP_DAYS, "max_body_bytes": 2048},
    )
    g = GatewayProcess(tmp_path_factory.mktemp("retention"), cfg)
    g.prepare(org="demo")
    out = cli(g.home, g.config_path, "demo-data", "--rows", "3000", "--org", "demo", "--seed", "4")
    assert "inserted 3,000 demo requests" in out
    db = sqlite3.connect(g.home / "switchyard.db")
    g.before = dict(
        db.execute(
            "SELECT created_at >= ?, count(*) FROM requests GROUP BY 1",
            (int(time.time() * 1000) - KEEP_DAYS * DAY_MS + 60_000,),
        ).fetchall()
    )
    g.sessions_before = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
    db.close()
    g.start()
    yield g
    g.stop()


def count(g, flt) -> int:
    r = httpx.post(f"{g.url}/v1/request/count/query", json={"filter": flt}, headers=g.headers(), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def _leftovers(gw) -> dict[str, int]:
    """What retention should have deleted and has not (yet)."""
    now = int(time.time() * 1000)
    cutoff = now - KEEP_DAYS * DAY_MS - 120_000
    db = sqlite3.connect(gw.home / "switchyard.db")
    try:
        one = lambda sql, *args: db.execute(sql, args).fetchone()[0]  # noqa: E731
        return {
            "requests": one("SELECT count(*) FROM requests WHERE created_at < ?", cutoff),
            "orphan properties": one(
                "SELECT count(*) FROM request_properties p WHERE NOT EXISTS (SELECT 1 FROM "
                "requests q WHERE q.id = p.request_id AND q.org_id = p.org_id)"
            ),
            "hour rollups": one(
                "SELECT count(*) FROM rollups WHERE grain = 'h' AND bucket + 3600000 <= ?", cutoff
            ),
            "day rollups": one(
                "SELECT count(*) FROM rollups WHERE grain = 'd' AND bucket + 86400000 <= ?", cutoff
            ),
            "minute rollups": one(
                "SELECT count(*) FROM rollups WHERE grain = 'm' AND bucket < ?", now - 49 * 3_600_000
            ),
            "sessions": one("SELECT count(*) FROM sessions WHERE last_at < ?", cutoff),
        }
    finally:
        db.close()


def test_demo_data_then_retention_deletes_what_is_older(gw):
    assert gw.before[0] > 0 and gw.before[1] > 0 and gw.sessions_before > 0
    deadline = time.time() + 90  # the first purge runs a few seconds after start, in small batches
    while time.time() < deadline and any(_leftovers(gw).values()):
        time.sleep(0.5)
    assert _leftovers(gw) == dict.fromkeys(_leftovers(gw), 0)
    too_old = {"request": {"created_at": {"lt": int(time.time() * 1000) - KEEP_DAYS * DAY_MS}}}
    assert count(gw, too_old) == 0
    assert count(gw, "all") >= gw.before[1]  # the days kept stay


def test_demo_traffic_in_the_apis(gw):
    rows = gw.query({"filter": "all", "limit": 50})
    assert len(rows) == 50
    assert {r["provider"] for r in rows} and any(r["request_properties"].get("environment") for r in rows)
    users = httpx.post(
        f"{gw.url}/v1/user/metrics/query",
        json={"filter": "all", "offset": 0, "limit": 5},
        headers=gw.headers(),
        timeout=30,
    ).json()["data"]
    assert users["count"] > 5 and users["users"][0]["cost"] >= users["users"][-1]["cost"]
    sessions = httpx.post(
        f"{gw.url}/v1/session/query", json={"limit": 5}, headers=gw.headers(), timeout=30
    ).json()["data"]
    assert sessions and sessions[0]["total_requests"] >= 1
    one = httpx.get(
        f"{gw.url}/v1/session/{sessions[0]['session_id']}", headers=gw.headers(), timeout=30
    ).json()
    assert one["data"]["tree"] and one["data"]["requests"][0]["session_path"].startswith("/")


def test_a_body_over_the_cap_is_stored_cut_with_a_marker(gw):
    big = "x" * 10_000
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers=gw.headers(),
        timeout=30,
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": big}]},
    )
    assert r.status_code == 200, r.text
    row = gw.wait_row(r.headers["helicone-id"])
    body = row["request_body"]
    assert (
        isinstance(body, str)
        and "[truncated by Switchyard: " in body
        and "log.max_body_bytes is 2,048]" in body
    )
    assert len(body.encode()) < 2048 + 100
    assert isinstance(row["response_body"], dict)  # a small answer is kept whole (and stays JSON)
