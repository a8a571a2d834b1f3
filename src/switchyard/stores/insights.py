"""The dashboard's read layer: overview, users, properties and facets from the rollups; the request list, request
detail, annotations and sessions in `insights_requests` / `insights_sessions`. Everything is re-exported here —
the pages and the REST API import only this module.

Every function takes the store and one organisation id and reads nothing outside it. Rollup reads never touch
the log table: a range is widened to whole buckets of one grain (minute for short recent ranges, hour up to
8 days, day beyond), and `Overview.range` says which range the numbers cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    and_,
    desc,
    distinct,
    func,
    literal_column,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from .insights_overview import USD, facets, overview, plan, summed, where_rollups, wide
from .insights_requests import (
    ROW_COLUMNS,
    annotations_for,
    count_requests,
    iter_requests,
    list_requests,
    request_detail,
    set_feedback,
    set_property,
    set_scores,
)
from .insights_sessions import list_sessions, session_trace
from .insights_types import (
    PRESETS,
    Facets,
    Feedback,
    InsightsError,
    Overview,
    PropertyBreakdown,
    PropertyKeyStat,
    RequestDetail,
    RequestFilter,
    RequestPage,
    RequestRow,
    SeriesPoint,
    SessionPage,
    SessionSummary,
    SessionTrace,
    TimeRange,
    Top,
    TopItem,
    Totals,
    TreeNode,
    UserPage,
    UserSummary,
)
from .rollup_journal import ensure_compacted
from .rollups import GRAIN_MS
from .schema_dashboard import rollups as r

_USER_SORTS = (
    "cost",
    "requests",
    "last_seen",
    "first_seen",
    "user_id",
    "prompt_tokens",
    "completion_tokens",
    "active_days",
)


async def list_users(
    store: Any,
    org_id: str,
    rng: TimeRange,
    *,
    search: str | None = None,
    sort: str = "cost",
    limit: int = 50,
    offset: int = 0,
    user_ids: Sequence[str] | None = None,
    descending: bool = True,
) -> UserPage:
    """Users (Helicone-User-Id) active in the range with their totals, from the rollups."""
    if sort not in _USER_SORTS:
        raise InsightsError(f"cannot sort users by {sort!r}; use one of {', '.join(_USER_SORTS)}")
    await ensure_compacted(store)
    grain, _, eff = plan(rng)
    grain, eff = wide(grain, eff)
    where = where_rollups(org_id, grain, "user", eff)
    if search:
        esc = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where = and_(where, r.c.name.ilike(f"%{esc}%", escape="\\"))
    if user_ids is not None:
        where = and_(where, r.c.name.in_([u[:200] for u in user_ids]))
    day = GRAIN_MS["d"]
    cols = [
        r.c.name.label("user_id"),
        summed("requests").label("requests"),
        summed("errors").label("errors"),
        summed("cost_nano").label("cost"),
        summed("prompt_tokens").label("prompt_tokens"),
        summed("completion_tokens").label("completion_tokens"),
        summed("total_tokens").label("tt"),
        func.min(r.c.first_at).label("first_seen"),
        func.max(r.c.last_at).label("last_seen"),
        # day rows: one per user and day (a plain count lets PostgreSQL hash-aggregate instead of sorting)
        (func.count() if grain == "d" else func.count(distinct(r.c.bucket - r.c.bucket % day))).label(
            "active_days"
        ),
    ]
    key: ColumnElement[Any] = literal_column(sort)
    q = (
        select(*cols, func.count().over().label("groups"))
        .where(where)
        .group_by(r.c.name)
        .order_by(desc(key) if descending else key, r.c.name)
        .limit(max(1, min(limit, 1000)))
        .offset(max(0, offset))
    )
    async with store.engine.connect() as conn:
        rows = (await conn.execute(q)).all()
        if rows:
            total = rows[0].groups
        else:  # past the last page (or nothing at all): count on its own
            total = (await conn.execute(select(func.count(distinct(r.c.name))).where(where))).scalar_one()
    items = [
        UserSummary(
            x.user_id,
            int(x.requests),
            int(x.errors),
            x.cost / USD,
            int(x.prompt_tokens),
            int(x.completion_tokens),
            int(x.tt),
            int(x.first_seen),
            int(x.last_seen),
            int(x.active_days),
        )
        for x in rows
    ]
    return UserPage(items=items, total=int(total), range=eff)


async def property_breakdown(
    store: Any, org_id: str, rng: TimeRange, *, key: str | None = None, limit: int = 50
) -> PropertyBreakdown:
    await ensure_compacted(store)
    grain, _, eff = plan(rng)
    grain, eff = wide(grain, eff)
    where = where_rollups(org_id, grain, "property", eff)
    async with store.engine.connect() as conn:
        keys = (
            await conn.execute(
                select(
                    r.c.name,
                    summed("requests").label("n"),
                    summed("cost_nano").label("cost"),
                    func.count(distinct(r.c.value)).label("values"),
                )
                .where(where)
                .group_by(r.c.name)
                .order_by(desc(literal_column("cost")), r.c.name)
                .limit(500)
            )
        ).all()
        values: list[TopItem] = []
        if key is not None:
            rows = (
                await conn.execute(
                    select(
                        r.c.value,
                        summed("requests").label("n"),
                        summed("errors").label("e"),
                        summed("cost_nano").label("cost"),
                        summed("total_tokens").label("tokens"),
                    )
                    .where(and_(where, r.c.name == key.lower()))
                    .group_by(r.c.value)
                    .order_by(desc(literal_column("cost")), r.c.value)
                    .limit(max(1, min(limit, 1000)))
                )
            ).all()
            values = [
                TopItem(key.lower(), x.value, int(x.n), int(x.e), x.cost / USD, int(x.tokens)) for x in rows
            ]
    return PropertyBreakdown(
        range=eff,
        keys=[PropertyKeyStat(k.name, int(k.n), k.cost / USD, int(k.values)) for k in keys],
        values=values,
    )


__all__ = [
    "PRESETS",
    "ROW_COLUMNS",
    "Facets",
    "Feedback",
    "InsightsError",
    "Overview",
    "PropertyBreakdown",
    "PropertyKeyStat",
    "RequestDetail",
    "RequestFilter",
    "RequestPage",
    "RequestRow",
    "SeriesPoint",
    "SessionPage",
    "SessionSummary",
    "SessionTrace",
    "TimeRange",
    "Top",
    "TopItem",
    "Totals",
    "TreeNode",
    "UserPage",
    "UserSummary",
    "annotations_for",
    "count_requests",
    "facets",
    "iter_requests",
    "list_requests",
    "list_sessions",
    "list_users",
    "overview",
    "plan",
    "property_breakdown",
    "request_detail",
    "session_trace",
    "set_feedback",
    "set_property",
    "set_scores",
]
