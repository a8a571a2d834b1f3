"""The dashboard's data layer on SQLite and PostgreSQL: rollups equal raw aggregates of the logged rows, overview
totals equal what the query API returns for the same rows, the request list pages stably, annotations stay inside
their organisation."""

from __future__ import annotations

import math
import random
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import select

from switchyard.stores import insights as ins
from switchyard.stores.base import RequestQuery
from switchyard.stores.rollup_journal import ensure_compacted
from switchyard.stores.rollups import GRAIN_MS, nano, status_class
from switchyard.stores.schema_dashboard import rollups, sessions

MODELS = [
    ("gpt-4o-mini", "openai"),
    ("claude-3-5-haiku", "anthropic"),
    ("gemini-2.0-flash", "google-ai-studio"),
]


def make_records(org_id: str, n: int, *, now: int, span_ms: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        model, provider = rnd.choice(MODELS)
        status = rnd.choice([200] * 8 + [429, 500])
        stream = rnd.random() < 0.4
        cache_hit = status == 200 and rnd.random() < 0.1
        latency = rnd.uniform(20, 4000)
        out.append(
            {
                "id": str(uuid.uuid4()),
                "org_id": org_id,
                "created_at": now - rnd.randrange(span_ms),
                "path": "/v1/chat/completions",
                "requested_model": model,
                "model": model,
                "provider": provider,
                "status": status,
                "error": None if status == 200 else "upstream said no",
                "stream": stream,
                "cache_hit": cache_hit,
                "latency_ms": round(latency, 3),
                "ttft_ms": round(latency / 3, 3) if stream and status == 200 else None,
                "prompt_tokens": rnd.randrange(5, 500),
                "completion_tokens": rnd.randrange(0, 300),
                "total_tokens": None,
                "cached_tokens": rnd.choice([0, 0, 64]),
                "cost_usd": None if status != 200 else round(rnd.uniform(0, 0.01), 9),
                "cost_saved_usd": 0.002 if cache_hit else None,
                "user_id": rnd.choice([None, "alice", "bob", "carol", f"user-{i % 7}"]),
                "session_id": rnd.choice([None, "s-1", "s-2"]),
                "session_path": rnd.choice(["/plan", "/plan/step", None]),
                "session_name": "trip",
                "properties": rnd.choice([{}, {"Env": "prod"}, {"env": "dev", "team": "a"}]),
                "request_body": f'{{"messages": [{{"role": "user", "content": "hello {i}"}}]}}',
                "response_body": "{}",
                "attempts": [{"provider": provider, "status": status}],
            }
        )
        out[-1]["total_tokens"] = out[-1]["prompt_tokens"] + out[-1]["completion_tokens"]
    return out


def expected(records: list[dict[str, Any]], grain: str) -> dict[tuple[str, int, str, str], list[int]]:
    """Raw aggregates: (dim, bucket, name, value) → [requests, errors, cost_nano, total_tokens, cache_hits].
    Users and property values have hour and day buckets only."""
    out: dict[tuple[str, int, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    w = GRAIN_MS[grain]
    for r in records:
        b = r["created_at"] - r["created_at"] % w
        keys = [
            ("total", "", ""),
            ("model", r["model"], ""),
            ("provider", r["provider"], ""),
            ("status", status_class(r["status"]), ""),
        ]
        if r["user_id"] and grain != "m":
            keys.append(("user", r["user_id"], ""))
        if grain != "m":
            keys += [("property", k.lower(), v) for k, v in r["properties"].items()]
        for dim, name, value in keys:
            v = out[(dim, b, name, value)]
            v[0] += 1
            v[1] += r["status"] >= 400
            v[2] += nano(r["cost_usd"])
            v[3] += r["total_tokens"]
            v[4] += r["cache_hit"]
    return dict(out)


async def stored(store, org_id: str, grain: str) -> dict[tuple[str, int, str, str], list[int]]:
    await ensure_compacted(store)  # what every read does first
    q = select(rollups).where(
        rollups.c.org_id == org_id, rollups.c.grain == grain, rollups.c.dim.notin_(["lat", "ttft"])
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    return {
        (x.dim, x.bucket, x.name, x.value): [x.requests, x.errors, x.cost_nano, x.total_tokens, x.cache_hits]
        for x in rows
        if x.requests
    }


@pytest.fixture
async def org(store):
    return await store.create_org(f"ins-{uuid.uuid4().hex[:8]}")


async def test_rollups_equal_raw_aggregates_at_every_grain_and_replays_count_once(store, org):
    now = int(time.time() * 1000)
    recs = make_records(org.id, 600, now=now, span_ms=3 * 86_400_000)
    recs.sort(key=lambda r: r["created_at"])
    for i in range(0, len(recs), 150):
        assert await store.insert_requests(recs[i : i + 150]) == []
    assert await store.insert_requests(recs[:200]) == []  # a replayed batch: already stored, counted once
    for grain in ("h", "d"):
        assert await stored(store, org.id, grain) == expected(recs, grain), grain
    cut = now - 47 * 3_600_000  # minute buckets are kept for the last 48 hours only
    minute = await stored(store, org.id, "m")
    assert {k: v for k, v in minute.items() if k[1] >= cut} == {
        k: v for k, v in expected(recs, "m").items() if k[1] >= cut
    }
    assert min(k[1] for k in minute) >= now - 48 * 3_600_000 - 60_000

    await ensure_compacted(store)
    async with store.engine.connect() as conn:
        sess = {
            x.session_id: x
            for x in (await conn.execute(select(sessions).where(sessions.c.org_id == org.id))).all()
        }
    for sid in ("s-1", "s-2"):
        mine = [r for r in recs if r["session_id"] == sid]
        s = sess[sid]
        assert (s.requests, s.cost_nano, s.first_at, s.last_at) == (
            len(mine),
            sum(nano(r["cost_usd"]) for r in mine),
            min(r["created_at"] for r in mine),
            max(r["created_at"] for r in mine),
        )


async def _query_all(store, org_id: str, start: int, end: int) -> list[dict[str, Any]]:
    out, offset = [], 0
    filt = {
        "left": {"request": {"created_at": {"gte": start}}},
        "operator": "and",
        "right": {"request": {"created_at": {"lt": end}}},
    }
    while True:
        page = await store.query_requests(
            RequestQuery(org_id=org_id, filter=filt, limit=1000, offset=offset, include_bodies=False)
        )
        out += page
        if len(page) < 1000:
            return out
        offset += 1000


@pytest.mark.parametrize("preset", ["1h", "24h", "7d", "30d"])
async def test_overview_totals_equal_the_query_api_for_the_same_rows(store, org, preset):
    now = int(time.time() * 1000)
    recs = make_records(org.id, 400, now=now, span_ms=40 * 86_400_000, seed=hash(preset) % 1000)
    recs.sort(key=lambda r: r["created_at"])
    for i in range(0, len(recs), 200):
        assert await store.insert_requests(recs[i : i + 200]) == []
    ov = await ins.overview(store, org.id, ins.TimeRange.last(ins.PRESETS[preset], now))
    rows = await _query_all(store, org.id, ov.range.start_ms, ov.range.end_ms)
    t = ov.totals
    assert t.requests == len(rows)
    assert t.errors == sum(r["status"] >= 400 for r in rows)
    assert t.cost_usd == pytest.approx(sum(r["cost_usd"] or 0 for r in rows), abs=1e-6)
    assert t.prompt_tokens == sum(r["prompt_tokens"] for r in rows)
    assert t.completion_tokens == sum(r["completion_tokens"] for r in rows)
    assert t.cached_tokens == sum(r["cached_tokens"] for r in rows)
    assert t.cache_hits == sum(bool(r["cache_hit"]) for r in rows)
    assert t.cost_saved_usd == pytest.approx(sum(r["cost_saved_usd"] or 0 for r in rows), abs=1e-6)
    assert sum(p.requests for p in ov.series) == len(rows)
    if rows:
        lat = sorted(r["latency_ms"] for r in rows)
        for q, got in ((0.5, t.latency_p50_ms), (0.95, t.latency_p95_ms), (0.99, t.latency_p99_ms)):
            nearest_rank = lat[math.ceil(q * len(lat)) - 1]
            assert got == pytest.approx(nearest_rank, rel=0.1)  # within the value's log bucket (±9 %)
    by_model: dict[str, float] = defaultdict(float)
    for r in rows:
        by_model[r["model"]] += r["cost_usd"] or 0
    assert {m.name: m.cost_usd for m in ov.models.by_cost} == pytest.approx(dict(by_model), abs=1e-6)
    users = await ins.list_users(store, org.id, ins.TimeRange.last(ins.PRESETS[preset], now), limit=100)
    want = defaultdict(int)
    for r in await _query_all(
        store, org.id, users.range.start_ms, users.range.end_ms
    ):  # whole hours at least
        if r["user_id"]:
            want[r["user_id"]] += 1
    assert {u.user_id: u.requests for u in users.items} == dict(want)


async def test_request_list_pages_stably_and_filters_match(store, org):
    now = int(time.time() * 1000)
    recs = make_records(org.id, 230, now=now, span_ms=3_600_000, seed=3)
    for r in recs[:40]:
        r["created_at"] = now - 5_000  # ties on created_at: the id breaks them
    assert await store.insert_requests(recs) == []
    seen, cursor = [], None
    while True:
        page = await ins.list_requests(store, org.id, ins.RequestFilter(), limit=37, cursor=cursor)
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(recs) == len({r.id for r in seen})
    assert [(r.created_at, r.id) for r in seen] == sorted(((r.created_at, r.id) for r in seen), reverse=True)

    cases = [
        (ins.RequestFilter(model="gpt-4o-mini"), lambda r: r["model"] == "gpt-4o-mini"),
        (ins.RequestFilter(status="5xx"), lambda r: r["status"] >= 500),
        (ins.RequestFilter(status="error"), lambda r: r["status"] >= 400),
        (ins.RequestFilter(user_id="alice"), lambda r: r["user_id"] == "alice"),
        (ins.RequestFilter(session_id="s-2"), lambda r: r["session_id"] == "s-2"),
        (
            ins.RequestFilter(properties=(("env", "dev"), ("team", "a"))),
            lambda r: r["properties"].get("env") == "dev",
        ),
        (ins.RequestFilter(cache_hit=True), lambda r: r["cache_hit"]),
        (ins.RequestFilter(search="HELLO 1"), lambda r: '"hello 1' in r["request_body"]),
        (
            ins.RequestFilter(start_ms=now - 600_000, provider="anthropic"),
            lambda r: r["created_at"] >= now - 600_000 and r["provider"] == "anthropic",
        ),
    ]
    for f, pred in cases:
        got = [d["id"] async for d in ins.iter_requests(store, org.id, f, batch=50)]
        assert sorted(got) == sorted(r["id"] for r in recs if pred(r)), f
    with pytest.raises(ins.InsightsError):
        await ins.list_requests(store, org.id, ins.RequestFilter(status="teapot"))
    with pytest.raises(ins.InsightsError):
        await ins.list_requests(store, org.id, ins.RequestFilter(), cursor="nonsense")


async def test_annotations_belong_to_one_organisation(store, org):
    other = await store.create_org(f"ins-other-{uuid.uuid4().hex[:8]}")
    now = int(time.time() * 1000)
    recs = make_records(org.id, 20, now=now, span_ms=60_000, seed=5)
    assert await store.insert_requests(recs) == []
    rid = recs[0]["id"]
    assert await ins.set_feedback(store, other.id, rid, False) is False
    assert await ins.set_scores(store, other.id, rid, {"x": 1}) is False
    assert await ins.set_property(store, other.id, rid, "k", "v") is False
    assert await ins.request_detail(store, other.id, rid) is None
    assert await ins.set_feedback(store, org.id, "no-such-id", True) is False

    assert await ins.set_feedback(store, org.id, rid, False) is True
    assert await ins.set_feedback(store, org.id, rid, True) is True  # changed, not added twice
    assert await ins.set_scores(store, org.id, rid, {"accuracy": 0.75, "helpful": True}) is True
    d = await ins.request_detail(store, org.id, rid)
    assert d is not None and d.feedback is not None and d.feedback.rating is True
    assert d.scores == {"accuracy": 0.75, "helpful": 1.0}
    good = [x["id"] async for x in ins.iter_requests(store, org.id, ins.RequestFilter(feedback="good"))]
    assert good == [rid]
    assert [x["id"] async for x in ins.iter_requests(store, org.id, ins.RequestFilter(feedback="bad"))] == []
    assert [x["id"] async for x in ins.iter_requests(store, org.id, ins.RequestFilter(score="accuracy"))] == [
        rid
    ]
    assert len([x async for x in ins.iter_requests(store, org.id, ins.RequestFilter(feedback="none"))]) == 19
    with pytest.raises(ins.InsightsError):
        await ins.set_scores(store, org.id, rid, {"x": float("nan")})

    # a property edit moves the request's rollups from the old value to the new one
    assert await ins.set_property(store, org.id, rid, "Env", "edited") is True
    recs[0]["properties"] = {k: v for k, v in recs[0]["properties"].items() if k.lower() != "env"} | {
        "env": "edited"
    }
    for grain in ("m", "h", "d"):
        assert await stored(store, org.id, grain) == expected(recs, grain)
    page = await ins.list_requests(store, org.id, ins.RequestFilter(properties=(("env", "edited"),)))
    assert [r.id for r in page.items] == [rid]

    # the other organisation sees none of it
    rng = ins.TimeRange.last(3600, now)
    assert (await ins.overview(store, other.id, rng)).totals.requests == 0
    assert (await ins.list_requests(store, other.id, ins.RequestFilter())).items == []
    assert (await ins.list_sessions(store, other.id, rng)).items == []
    assert await ins.session_trace(store, other.id, "s-1") is None
    assert (await ins.list_users(store, other.id, rng)).items == []
    assert (await ins.property_breakdown(store, other.id, rng, key="env")).values == []


async def test_sessions_list_and_trace_tree(store, org):
    now = int(time.time() * 1000)
    base = make_records(org.id, 6, now=now, span_ms=1000, seed=9)
    paths = ["/a", "/a/b", "/a/b", "/a/c", None, "/d"]
    for i, (r, p) in enumerate(zip(base, paths, strict=True)):
        r.update(session_id="trace-1", session_path=p, created_at=now - 10_000 + i * 1000, latency_ms=500.0)
    assert await store.insert_requests(base) == []
    page = await ins.list_sessions(store, org.id, ins.TimeRange.last(3600, now), search="trace")
    assert [s.session_id for s in page.items] == ["trace-1"]
    s = page.items[0]
    assert s.requests == 6 and s.duration_ms == 5 * 1000 + 500
    tr = await ins.session_trace(store, org.id, "trace-1")
    assert tr is not None and [r.id for r in tr.requests] == [r["id"] for r in base]
    top = {n.path: n for n in tr.tree}
    assert set(top) == {"/", "/a", "/d"}
    assert len(top["/a"].requests) == 1
    assert {c.path: len(c.requests) for c in top["/a"].children} == {"/a/b": 2, "/a/c": 1}


async def test_retention_deletes_old_rows_rollups_and_sessions_in_batches(store, org):
    from switchyard.stores.retention import purge
    from switchyard.stores.schema import request_properties

    now = int(time.time() * 1000)
    recs = make_records(org.id, 300, now=now, span_ms=20 * 86_400_000, seed=11)
    for r in recs:
        r["session_id"] = f"{org.id[:8]}-{r['created_at'] // 86_400_000}"  # one session per day
    assert await store.insert_requests(recs) == []
    old = [r for r in recs if r["created_at"] < now - 10 * 86_400_000]
    assert old and len(old) < len(recs)
    assert await ins.set_feedback(store, org.id, old[0]["id"], True)
    assert await ins.set_scores(store, org.id, old[0]["id"], {"s": 1})

    done = await purge(store, 10, now_ms=now, batch=25, org_ids=[org.id])  # the suite's other orgs stay
    assert done["requests"] >= len(old) and done["rollups"] > 0 and done["sessions"] > 0
    kept = await _query_all(store, org.id, 0, now + 1)
    assert sorted(r["id"] for r in kept) == sorted(r["id"] for r in recs if r not in old)
    assert await ins.request_detail(store, org.id, old[0]["id"]) is None
    cutoff = now - 10 * 86_400_000
    await ensure_compacted(store)
    async with store.engine.connect() as conn:
        props = (
            await conn.execute(
                select(request_properties.c.request_id).where(
                    request_properties.c.org_id == org.id,
                    request_properties.c.request_id.in_([r["id"] for r in old]),
                )
            )
        ).all()
        assert props == []
        for grain in ("h", "d"):
            oldest = (
                await conn.execute(
                    select(rollups.c.bucket)
                    .where(rollups.c.org_id == org.id, rollups.c.grain == grain)
                    .order_by(rollups.c.bucket)
                    .limit(1)
                )
            ).scalar()
            assert oldest + GRAIN_MS[grain] > cutoff
        ends = [
            x[0] for x in (await conn.execute(select(sessions.c.last_at).where(sessions.c.org_id == org.id)))
        ]
        assert ends and min(ends) >= cutoff
    # hour rollups of the kept range still equal the raw rows
    fresh_hours = {
        k: v
        for k, v in expected([r for r in recs if r not in old], "h").items()
        if k[1] >= cutoff - cutoff % 3_600_000 + 3_600_000
    }
    got = {
        k: v
        for k, v in (await stored(store, org.id, "h")).items()
        if k[1] in {b for _, b, _, _ in fresh_hours}
    }
    assert got == fresh_hours
    assert await purge(store, 10, now_ms=now, org_ids=[org.id]) == {
        "requests": 0,
        "sessions": 0,
        "rollups": 0,
    }
