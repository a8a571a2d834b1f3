"""Requests for the dashboard: the filtered list (indexed, newest first, (created_at, id) cursor), the streamed
export, one request's detail, and the annotations callers add afterwards (feedback, scores, properties).

Every statement carries `org_id = :org`: a request of another organisation is indistinguishable from a missing one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from sqlalchemy import and_, delete, exists, func, insert, or_, select, update

from .base import StoreUnavailable
from .dialect_insert import insert_for
from .filters import to_sql
from .insights_types import Feedback, InsightsError, RequestDetail, RequestFilter, RequestPage, RequestRow
from .rollup_sql import upsert_core
from .rollups import Fold
from .schema import request_properties as rp
from .schema import requests as q
from .schema import text_hash
from .schema_dashboard import request_feedback as fb
from .schema_dashboard import request_scores as sc
from .sql_errors import DB_OUTAGE

ROW_COLUMNS = (  # one request's columns in lists and exports (then its properties and feedback)
    "id",
    "created_at",
    "path",
    "model",
    "requested_model",
    "provider",
    "status",
    "error",
    "stream",
    "cache_hit",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cost_usd",
    "cost_saved_usd",
    "user_id",
    "session_id",
    "session_path",
    "session_name",
)
_LIST_COLS = [*(q.c[c] for c in ROW_COLUMNS), q.c.properties, fb.c.rating.label("feedback")]
_FB_JOIN = q.outerjoin(fb, and_(fb.c.org_id == q.c.org_id, fb.c.request_id == q.c.id))
MAX_PAGE = 500


def _now() -> int:
    return int(time.time() * 1000)


def row_of(m: Any) -> RequestRow:
    props = m["properties"]
    return RequestRow(
        **{c: m[c] for c in ROW_COLUMNS},
        properties=orjson.loads(props) if props else {},
        feedback=None if m["feedback"] is None else bool(m["feedback"]),
    )


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _status(spec: str) -> Any:
    s = spec.strip().lower()
    if s.isdigit():
        return q.c.status == int(s)
    if len(s) == 3 and s[0] in "12345" and s[1:] == "xx":
        lo = int(s[0]) * 100
        return and_(q.c.status >= lo, q.c.status < lo + 100)
    if s == "error":
        return q.c.status >= 400
    if s == "success":
        return q.c.status < 400
    raise InsightsError(
        f"unknown status filter {spec!r}; use a code like 200, a class like 4xx, error or success"
    )


def conditions(org_id: str, f: RequestFilter) -> list[Any]:
    if not org_id:
        raise InsightsError("an organisation id is required")
    c: list[Any] = [q.c.org_id == org_id]
    if f.start_ms is not None:
        c.append(q.c.created_at >= f.start_ms)
    if f.end_ms is not None:
        c.append(q.c.created_at < f.end_ms)
    for col in ("model", "provider", "user_id", "session_id"):
        v = getattr(f, col)
        if v is not None and v != "":
            c.append(q.c[col] == v)
    if f.status:
        c.append(_status(f.status))
    for key, value in f.properties:
        k, v = str(key).lower(), str(value)
        # IN over the (org, key, value) index, not a correlated EXISTS: the database can drive from the matches
        c.append(
            q.c.id.in_(
                select(rp.c.request_id).where(
                    rp.c.org_id == org_id,
                    rp.c.key_hash == text_hash(k),
                    rp.c.value_hash == text_hash(v),
                    rp.c.key == k,
                    rp.c.value == v,
                )
            )
        )
    if f.cache_hit is not None:
        c.append(q.c.cache_hit == f.cache_hit)
    if f.search:
        pattern = f"%{_escape(f.search)}%"
        c.append(
            or_(q.c.request_body.ilike(pattern, escape="\\"), q.c.response_body.ilike(pattern, escape="\\"))
        )
    if f.feedback:
        f2 = fb.alias(
            "fb_filter"
        )  # the list already outer-joins `fb`: a separate alias, correlated on requests
        has = select(f2.c.request_id).where(f2.c.org_id == q.c.org_id, f2.c.request_id == q.c.id)
        if f.feedback in ("good", "bad"):
            c.append(exists(has.where(f2.c.rating == (f.feedback == "good"))))
        elif f.feedback == "any":
            c.append(exists(has))
        elif f.feedback == "none":
            c.append(~exists(has))
        else:
            raise InsightsError(f"unknown feedback filter {f.feedback!r}; use good, bad, any or none")
    if f.score:
        c.append(
            exists(
                select(sc.c.request_id).where(
                    sc.c.org_id == q.c.org_id, sc.c.request_id == q.c.id, sc.c.name == f.score
                )
            )
        )
    return c


async def count_requests(store: Any, org_id: str, node: Any = "all", is_cached: bool | None = None) -> int:
    """How many of the organisation's requests match a Helicone filter (POST /v1/request/count/query)."""
    if not org_id:
        raise InsightsError("an organisation id is required")
    stmt = select(func.count()).select_from(q).where(q.c.org_id == org_id, to_sql(node))
    if is_cached is not None:
        stmt = stmt.where(q.c.cache_hit == is_cached)
    async with store.engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


def _cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    t, dot, rid = cursor.partition(".")
    if not dot or not t.isdigit() or not rid:
        raise InsightsError("malformed cursor")
    t_ms = int(t)
    return or_(q.c.created_at < t_ms, and_(q.c.created_at == t_ms, q.c.id < rid))


async def list_requests(
    store: Any, org_id: str, f: RequestFilter, *, limit: int = 50, cursor: str | None = None
) -> RequestPage:
    limit = max(1, min(limit, MAX_PAGE))
    where = conditions(org_id, f)
    after = _cursor(cursor)
    if after is not None:
        where.append(after)
    stmt = (
        select(*_LIST_COLS)
        .select_from(_FB_JOIN)
        .where(*where)
        .order_by(q.c.created_at.desc(), q.c.id.desc())
        .limit(limit + 1)
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    items = [row_of(m) for m in rows[:limit]]
    nxt = f"{items[-1].created_at}.{items[-1].id}" if len(rows) > limit else None
    return RequestPage(items=items, next_cursor=nxt)


async def iter_requests(
    store: Any, org_id: str, f: RequestFilter, *, include_bodies: bool = False, batch: int = 500
) -> AsyncIterator[dict[str, Any]]:
    """The whole filtered set, newest first, one page query at a time (no long-lived transaction)."""
    cols = [*_LIST_COLS, q.c.request_body, q.c.response_body] if include_bodies else _LIST_COLS
    cursor = None
    while True:
        where = conditions(org_id, f)
        if cursor is not None:
            where.append(
                or_(q.c.created_at < cursor[0], and_(q.c.created_at == cursor[0], q.c.id < cursor[1]))
            )
        stmt = (
            select(*cols)
            .select_from(_FB_JOIN)
            .where(*where)
            .order_by(q.c.created_at.desc(), q.c.id.desc())
            .limit(batch)
        )
        async with store.engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        for m in rows:
            d = row_of(m).as_dict()
            if include_bodies:
                d["request_body"], d["response_body"] = m["request_body"], m["response_body"]
            yield d
        if len(rows) < batch:
            return
        cursor = (rows[-1]["created_at"], rows[-1]["id"])


async def request_detail(store: Any, org_id: str, request_id: str) -> RequestDetail | None:
    stmt = (
        select(q, fb.c.rating.label("feedback"), fb.c.created_at.label("feedback_at"))
        .select_from(_FB_JOIN)
        .where(q.c.org_id == org_id, q.c.id == request_id)
    )
    async with store.engine.connect() as conn:
        m = (await conn.execute(stmt)).mappings().first()
        if m is None:
            return None
        scores = {
            s.name: s.value
            for s in (
                await conn.execute(
                    select(sc.c.name, sc.c.value)
                    .where(sc.c.org_id == org_id, sc.c.request_id == request_id)
                    .order_by(sc.c.name)
                )
            ).all()
        }
    return RequestDetail(
        row=row_of(m),
        request_body=m["request_body"],
        response_body=m["response_body"],
        attempts=orjson.loads(m["attempts"]) if m["attempts"] else [],
        overhead_ms=m["overhead_ms"],
        reasoning_tokens=m["reasoning_tokens"],
        cache_write_tokens=m["cache_write_tokens"],
        key_id=m["key_id"],
        prompt_id=m["prompt_id"],
        feedback=None if m["feedback"] is None else Feedback(bool(m["feedback"]), int(m["feedback_at"])),
        scores=scores,
    )


async def annotations_for(store: Any, org_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """{request id: {"feedback": Feedback | None, "scores": {name: value}}} for rows the query API returns."""
    out: dict[str, dict[str, Any]] = {i: {"feedback": None, "scores": {}} for i in ids}
    if not ids:
        return out
    try:
        async with store.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                for x in await conn.execute(
                    select(fb).where(fb.c.org_id == org_id, fb.c.request_id.in_(chunk))
                ):
                    out[x.request_id]["feedback"] = Feedback(bool(x.rating), int(x.created_at))
                for x in await conn.execute(
                    select(sc).where(sc.c.org_id == org_id, sc.c.request_id.in_(chunk))
                ):
                    out[x.request_id]["scores"][x.name] = x.value
    except DB_OUTAGE as e:
        raise StoreUnavailable(str(e)) from None
    return out


def _ins(conn: Any) -> Any:
    return insert_for(conn.dialect.name)


async def _exists(conn: Any, org_id: str, request_id: str) -> bool:
    row = (await conn.execute(select(q.c.id).where(q.c.org_id == org_id, q.c.id == request_id))).first()
    return row is not None


async def set_feedback(store: Any, org_id: str, request_id: str, rating: bool) -> bool:
    if not isinstance(rating, bool):
        raise InsightsError("rating must be true or false")
    t = _now()
    async with store.engine.begin() as conn:
        if not await _exists(conn, org_id, request_id):
            return False
        stmt = _ins(conn)(fb).values(
            org_id=org_id, request_id=request_id, rating=rating, created_at=t, updated_at=t
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["org_id", "request_id"], set_={"rating": rating, "updated_at": t}
            )
        )
    return True


def _score_value(name: Any, v: Any) -> float:
    if not isinstance(name, str) or not name or len(name) > 200:
        raise InsightsError("score names must be strings of 1 to 200 characters")
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float) and v == v and abs(v) != float("inf"):
        return float(v)
    raise InsightsError(f"score {name!r} must be a finite number or a boolean")


async def set_scores(store: Any, org_id: str, request_id: str, scores: dict[str, Any]) -> bool:
    if not isinstance(scores, dict) or not scores:
        raise InsightsError("scores must be a non-empty object of name → number or boolean")
    values = {k: _score_value(k, v) for k, v in scores.items()}
    t = _now()
    async with store.engine.begin() as conn:
        if not await _exists(conn, org_id, request_id):
            return False
        for name, value in sorted(values.items()):
            stmt = _ins(conn)(sc).values(
                org_id=org_id, request_id=request_id, name=name, value=value, created_at=t
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["org_id", "request_id", "name"], set_={"value": value, "created_at": t}
                )
            )
    return True


async def set_property(store: Any, org_id: str, request_id: str, key: str, value: str) -> bool:
    """Add or replace one property of a logged request; its rollups move from the old value to the new one."""
    if not isinstance(key, str) or not key or len(key) > 1000:
        raise InsightsError("key must be a string of 1 to 1,000 characters")
    if not isinstance(value, str):
        raise InsightsError("value must be a string")
    key = key.lower()
    async with store.engine.begin() as conn:
        m = (await conn.execute(select(q).where(q.c.org_id == org_id, q.c.id == request_id))).first()
        if m is None:
            return False
        old = orjson.loads(m.properties) if m.properties else {}
        new = {**old, key: value}
        f = Fold()
        f.add(tuple(m), list(old.items()), sign=-1)
        f.add(tuple(m), list(new.items()), sign=1)
        await conn.execute(
            update(q)
            .where(q.c.org_id == org_id, q.c.id == request_id)
            .values(properties=orjson.dumps(new).decode())
        )
        await conn.execute(
            delete(rp).where(
                rp.c.org_id == org_id, rp.c.request_id == request_id, rp.c.key_hash == text_hash(key)
            )
        )
        await conn.execute(
            insert(rp).values(
                request_id=request_id,
                org_id=org_id,
                key_hash=text_hash(key),
                key=key,
                value=value,
                value_hash=text_hash(value),
            )
        )
        for stmt in upsert_core(conn, f.deltas()):
            await conn.execute(stmt)
    return True
