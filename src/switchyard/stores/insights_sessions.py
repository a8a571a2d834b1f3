"""Sessions (Helicone-Session-Id): the list from the `sessions` summary table the log writer maintains, and one
session's requests as a tree by Helicone-Session-Path."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from .insights_requests import _FB_JOIN, _LIST_COLS, row_of
from .insights_types import (
    InsightsError,
    RequestRow,
    SessionPage,
    SessionSummary,
    SessionTrace,
    TimeRange,
    TreeNode,
)
from .rollup_journal import ensure_compacted
from .schema import requests as q
from .schema_dashboard import sessions as s

MAX_TRACE = 2000


def _summary(x: Any) -> SessionSummary:
    return SessionSummary(
        session_id=x.session_id,
        name=x.name,
        first_at=int(x.first_at),
        last_at=int(x.last_at),
        duration_ms=int(x.end_at - x.first_at),
        requests=int(x.requests),
        errors=int(x.errors),
        cost_usd=x.cost_nano / 1e9,
        prompt_tokens=int(x.prompt_tokens),
        completion_tokens=int(x.completion_tokens),
        total_tokens=int(x.total_tokens),
        avg_latency_ms=round(x.latency_sum / x.requests, 1) if x.requests else None,
        user_id=x.user_id,
    )


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_TEXT_OPS = ("equals", "not-equals", "contains", "not-contains", "like", "ilike")
_NUM_OPS = {
    "equals": "__eq__",
    "not-equals": "__ne__",
    "gt": "__gt__",
    "gte": "__ge__",
    "lt": "__lt__",
    "lte": "__le__",
}
_SESSION_COLUMNS = {
    "session_session_id": "session_id",
    "session_id": "session_id",
    "session_session_name": "name",
    "session_name": "name",
    "session_total_cost": "cost_nano",
    "session_total_requests": "requests",
    "session_total_tokens": "total_tokens",
    "session_prompt_tokens": "prompt_tokens",
    "session_completion_tokens": "completion_tokens",
    "session_created_at": "first_at",
    "session_latest_request_created_at": "last_at",
    "user_id": "user_id",
}


def session_filter(node: Any, depth: int = 0) -> Any:
    """Helicone's SessionFilterNode over the sessions summary: "all", {left, operator, right}, or
    {"sessions_request_response_rmt": {<column>: {<op>: value}}} with the session_* columns."""
    if depth > 32:
        raise InsightsError("session filter nested too deeply")
    if node is None or node == "all" or node == {}:
        return true()
    if not isinstance(node, dict):
        raise InsightsError('a session filter must be "all" or an object')
    if "operator" in node:
        if node["operator"] not in ("and", "or") or "left" not in node or "right" not in node:
            raise InsightsError('a branch filter needs left, right and operator "and" or "or"')
        left, right = session_filter(node["left"], depth + 1), session_filter(node["right"], depth + 1)
        return and_(left, right) if node["operator"] == "and" else or_(left, right)
    clauses: list[ColumnElement[bool]] = []
    for table, cols in node.items():
        if table not in (
            "sessions_request_response_rmt",
            "request_response_rmt",
            "sessions",
        ) or not isinstance(cols, dict):
            raise InsightsError(f"unknown session filter table {table!r}; use sessions_request_response_rmt")
        for name, spec in cols.items():
            col = _SESSION_COLUMNS.get(name)
            if col is None:
                raise InsightsError(
                    f"unknown session filter column {name!r}; known: {', '.join(_SESSION_COLUMNS)}"
                )
            if not isinstance(spec, dict) or len(spec) != 1:
                raise InsightsError(f"{name}: expected exactly one operator")
            ((op, value),) = spec.items()
            c = s.c[col]
            if col in ("session_id", "name", "user_id"):
                if op not in _TEXT_OPS or not isinstance(value, str):
                    raise InsightsError(f"{name}: use {', '.join(_TEXT_OPS)} with a string")
                if op in ("contains", "not-contains"):
                    clause = c.ilike(f"%{_escape(value)}%", escape="\\")
                    clauses.append(~clause if op == "not-contains" else clause)
                else:
                    clauses.append(
                        {
                            "equals": c == value,
                            "not-equals": c != value,
                            "like": c.like(value),
                            "ilike": c.ilike(value),
                        }[op]
                    )
                continue
            if col in ("first_at", "last_at") and isinstance(value, str):
                value = _iso_ms(value)
            if op not in _NUM_OPS or isinstance(value, bool) or not isinstance(value, int | float):
                raise InsightsError(f"{name}: use equals, not-equals, gt, gte, lt or lte with a number")
            if col == "cost_nano":
                value = value * 1e9
            clauses.append(getattr(c, _NUM_OPS[op])(value))
    return and_(*clauses) if clauses else true()


def _iso_ms(value: str) -> int:
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InsightsError(f"cannot read {value!r} as a time") from None
    return int((t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp() * 1000)


async def list_sessions(
    store: Any,
    org_id: str,
    rng: TimeRange,
    *,
    search: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    offset: int = 0,
    name_equals: str | None = None,
    filter: Any = "all",
) -> SessionPage:
    """Sessions with a request in `rng`, most recently active first; `search` matches id or name; `filter` is
    Helicone's SessionFilterNode (see `session_filter`)."""
    if not org_id:
        raise InsightsError("an organisation id is required")
    await ensure_compacted(store)
    limit = max(1, min(limit, 1000))
    where = [
        s.c.org_id == org_id,
        s.c.last_at >= rng.start_ms,
        s.c.first_at < rng.end_ms,
        s.c.requests > 0,
        session_filter(filter),
    ]
    if name_equals is not None:
        where.append(s.c.name == name_equals)
    if search:
        pat = f"%{_escape(search)}%"
        where.append(or_(s.c.session_id.ilike(pat, escape="\\"), s.c.name.ilike(pat, escape="\\")))
    if cursor:
        t, dot, sid = cursor.partition(".")
        if not dot or not t.isdigit():
            raise InsightsError("malformed cursor")
        where.append(or_(s.c.last_at < int(t), and_(s.c.last_at == int(t), s.c.session_id < sid)))
    stmt = (
        select(s)
        .where(*where)
        .order_by(s.c.last_at.desc(), s.c.session_id.desc())
        .limit(limit + 1)
        .offset(max(0, offset))
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    items = [_summary(x) for x in rows[:limit]]
    nxt = f"{items[-1].last_at}.{items[-1].session_id}" if len(rows) > limit else None
    return SessionPage(items=items, next_cursor=nxt)


def build_tree(rows: list[RequestRow]) -> list[TreeNode]:
    """Requests grouped by their session path ("/a/b" → a → b); requests without a path sit at the root "/"."""
    root: dict[str, Any] = {"children": {}, "requests": []}
    for row in rows:
        segments = [p for p in (row.session_path or "/").split("/") if p]
        node = root
        for seg in segments:
            node = node["children"].setdefault(seg, {"children": {}, "requests": []})
        node["requests"].append(row)

    def build(node: dict[str, Any], prefix: str) -> list[TreeNode]:
        return [
            TreeNode(
                segment=seg,
                path=f"{prefix}/{seg}",
                requests=child["requests"],
                children=build(child, f"{prefix}/{seg}"),
            )
            for seg, child in node["children"].items()
        ]

    top = build(root, "")
    if root["requests"]:
        top.insert(0, TreeNode(segment="/", path="/", requests=root["requests"], children=[]))
    return top


async def session_trace(store: Any, org_id: str, session_id: str) -> SessionTrace | None:
    if not org_id:
        raise InsightsError("an organisation id is required")
    await ensure_compacted(store)
    async with store.engine.connect() as conn:
        summary = (
            await conn.execute(select(s).where(s.c.org_id == org_id, s.c.session_id == session_id))
        ).first()
        rows = (
            (
                await conn.execute(
                    select(*_LIST_COLS)
                    .select_from(_FB_JOIN)
                    .where(q.c.org_id == org_id, q.c.session_id == session_id)
                    .order_by(q.c.created_at)
                    .limit(MAX_TRACE)
                )
            )
            .mappings()
            .all()
        )  # (org, session, created_at) index order
    if summary is None and not rows:
        return None
    items = sorted((row_of(m) for m in rows), key=lambda r: (r.created_at, r.id))
    if summary is not None:
        head = _summary(summary)
    else:  # a session id too long to summarise: summed from its rows
        end = max(r.created_at + int(r.latency_ms or 0) for r in items)
        head = SessionSummary(
            session_id=session_id,
            name=items[0].session_name,
            first_at=items[0].created_at,
            last_at=items[-1].created_at,
            duration_ms=end - items[0].created_at,
            requests=len(items),
            errors=sum(1 for r in items if r.status >= 400),
            cost_usd=sum(r.cost_usd or 0 for r in items),
            prompt_tokens=sum(r.prompt_tokens or 0 for r in items),
            completion_tokens=sum(r.completion_tokens or 0 for r in items),
            total_tokens=sum(r.total_tokens or 0 for r in items),
            avg_latency_ms=round(sum(r.latency_ms or 0 for r in items) / len(items), 1),
            user_id=items[-1].user_id,
        )
    return SessionTrace(summary=head, requests=items, tree=build_tree(items))
