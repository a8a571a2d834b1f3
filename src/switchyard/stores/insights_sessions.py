"""Sessions (Helicone-Session-Id): the list from the `sessions` summary table the log writer maintains, and one
session's requests as a tree by Helicone-Session-Path."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select

from .insights_requests import _FB_JOIN, _LIST_COLS, row_of
from .insights_types import InsightsError, RequestRow, SessionPage, SessionSummary, SessionTrace, TimeRange, TreeNode
from .schema import requests as q
from .schema_dashboard import sessions as s

MAX_TRACE = 2000


def _summary(x: Any) -> SessionSummary:
    return SessionSummary(
        session_id=x.session_id, name=x.name, first_at=int(x.first_at), last_at=int(x.last_at),
        duration_ms=int(x.end_at - x.first_at), requests=int(x.requests), errors=int(x.errors),
        cost_usd=x.cost_nano / 1e9, prompt_tokens=int(x.prompt_tokens), completion_tokens=int(x.completion_tokens),
        total_tokens=int(x.total_tokens), avg_latency_ms=round(x.latency_sum / x.requests, 1) if x.requests else None,
        user_id=x.user_id)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_sessions(store: Any, org_id: str, rng: TimeRange, *, search: str | None = None, limit: int = 50,
                        cursor: str | None = None) -> SessionPage:
    """Sessions with a request in `rng`, most recently active first; `search` matches id or name."""
    if not org_id:
        raise InsightsError("an organisation id is required")
    limit = max(1, min(limit, 500))
    where = [s.c.org_id == org_id, s.c.last_at >= rng.start_ms, s.c.first_at < rng.end_ms, s.c.requests > 0]
    if search:
        pat = f"%{_escape(search)}%"
        where.append(or_(s.c.session_id.ilike(pat, escape="\\"), s.c.name.ilike(pat, escape="\\")))
    if cursor:
        t, dot, sid = cursor.partition(".")
        if not dot or not t.isdigit():
            raise InsightsError("malformed cursor")
        where.append(or_(s.c.last_at < int(t), and_(s.c.last_at == int(t), s.c.session_id < sid)))
    stmt = select(s).where(*where).order_by(s.c.last_at.desc(), s.c.session_id.desc()).limit(limit + 1)
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
        return [TreeNode(segment=seg, path=f"{prefix}/{seg}", requests=child["requests"],
                         children=build(child, f"{prefix}/{seg}"))
                for seg, child in node["children"].items()]

    top = build(root, "")
    if root["requests"]:
        top.insert(0, TreeNode(segment="/", path="/", requests=root["requests"], children=[]))
    return top


async def session_trace(store: Any, org_id: str, session_id: str) -> SessionTrace | None:
    if not org_id:
        raise InsightsError("an organisation id is required")
    async with store.engine.connect() as conn:
        summary = (await conn.execute(select(s).where(s.c.org_id == org_id, s.c.session_id == session_id))).first()
        rows = (await conn.execute(
            select(*_LIST_COLS).select_from(_FB_JOIN).where(q.c.org_id == org_id, q.c.session_id == session_id)
            .order_by(q.c.created_at, q.c.id).limit(MAX_TRACE))).mappings().all()
    if summary is None and not rows:
        return None
    items = [row_of(m) for m in rows]
    if summary is not None:
        head = _summary(summary)
    else:  # a session id too long to summarise: summed from its rows
        end = max(r.created_at + int(r.latency_ms or 0) for r in items)
        head = SessionSummary(
            session_id=session_id, name=items[0].session_name, first_at=items[0].created_at,
            last_at=items[-1].created_at, duration_ms=end - items[0].created_at, requests=len(items),
            errors=sum(1 for r in items if r.status >= 400), cost_usd=sum(r.cost_usd or 0 for r in items),
            prompt_tokens=sum(r.prompt_tokens or 0 for r in items),
            completion_tokens=sum(r.completion_tokens or 0 for r in items),
            total_tokens=sum(r.total_tokens or 0 for r in items),
            avg_latency_ms=round(sum(r.latency_ms or 0 for r in items) / len(items), 1), user_id=items[-1].user_id)
    return SessionTrace(summary=head, requests=items, tree=build_tree(items))
