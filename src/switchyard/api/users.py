"""Helicone's user endpoints over the per-user rollups: POST /v1/user/query ({userIds?, timeFilter?} →
[{user_id, count, prompt_tokens, completion_tokens, cost}]) and POST /v1/user/metrics/query ({filter, offset,
limit, timeFilter?, sort?} → {users: UserMetricsResult[], count, hasUsers}). Time filters are in Unix seconds
(Helicone's) and widen to whole rollup buckets."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import bad_request
from ..stores import insights
from .rest import iso, json_body, ok, org_scoped, paging, time_filter

_SORTS = {
    "cost": "cost",
    "total_requests": "requests",
    "last_active": "last_seen",
    "first_active": "first_seen",
    "user_id": "user_id",
    "id": "user_id",
    "total_prompt_tokens": "prompt_tokens",
    "total_completion_tokens": "completion_tokens",
    "active_for": "active_days",
}


def _user_ids(body: dict[str, Any]) -> list[str] | None:
    ids = body.get("userIds")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(u, str) for u in ids) or len(ids) > 1000:
        raise bad_request("'userIds' must be a list of at most 1,000 strings.", param="userIds")
    return ids


def _user_filter(node: Any) -> tuple[str | None, list[str] | None]:
    """The user filters we answer from rollups: "all", or user_id equals/contains (users_view.user_user_id or
    request_response_rmt.user_id). Anything else is a 400 naming what is supported."""
    if node is None or node == "all" or node == {}:
        return None, None
    if isinstance(node, dict) and len(node) == 1:
        ((table, cols),) = node.items()
        if table in ("users_view", "request_response_rmt") and isinstance(cols, dict) and len(cols) == 1:
            ((col, spec),) = cols.items()
            if col in ("user_user_id", "user_id") and isinstance(spec, dict) and len(spec) == 1:
                ((op, value),) = spec.items()
                if isinstance(value, str) and op == "equals":
                    return None, [value]
                if isinstance(value, str) and op in ("contains", "ilike", "like"):
                    return value.strip("%"), None
    raise bad_request(
        'Supported user filters: "all", or {"users_view": {"user_user_id": {"equals"|"contains": "..."}}}.',
        param="filter",
        code="invalid_filter",
    )


@org_scoped
async def query_users(request: Request, org_id: str) -> Response:
    body = await json_body(request)
    page = await insights.list_users(
        request.app.state.deps.store,
        org_id,
        time_filter(body, 1000, "startTimeUnixSeconds", "endTimeUnixSeconds"),
        user_ids=_user_ids(body),
        sort="cost",
        limit=1000,
    )
    return ok(
        [
            {
                "user_id": u.user_id,
                "count": u.requests,
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "cost": u.cost_usd,
            }
            for u in page.items
        ]
    )


@org_scoped
async def user_metrics(request: Request, org_id: str) -> Response:
    body = await json_body(request)
    limit, offset = paging(body, default_limit=100)
    search, ids = _user_filter(body.get("filter", "all"))
    sort, descending = "cost", True
    raw_sort = body.get("sort")
    if raw_sort is not None:
        if not isinstance(raw_sort, dict) or len(raw_sort) != 1:
            raise bad_request('\'sort\' must name one field, like {"cost": "desc"}.', param="sort")
        ((field, direction),) = raw_sort.items()
        if field not in _SORTS or direction not in ("asc", "desc"):
            raise bad_request(
                f"cannot sort users by {field!r} {direction!r}; fields: {', '.join(_SORTS)}.", param="sort"
            )
        sort, descending = _SORTS[field], direction == "desc"
    page = await insights.list_users(
        request.app.state.deps.store,
        org_id,
        time_filter(body, 1000, "startTimeUnixSeconds", "endTimeUnixSeconds"),
        search=search,
        user_ids=ids,
        sort=sort,
        descending=descending,
        limit=max(limit, 1),
        offset=offset,
    )
    users = [
        {
            "id": u.user_id,
            "user_id": u.user_id,
            "active_for": u.active_days,
            "first_active": iso(u.first_seen_ms),
            "last_active": iso(u.last_seen_ms),
            "total_requests": u.requests,
            "average_requests_per_day_active": u.requests / max(u.active_days, 1),
            "average_tokens_per_request": u.total_tokens / u.requests if u.requests else 0,
            "total_completion_tokens": u.completion_tokens,
            "total_prompt_tokens": u.prompt_tokens,
            "cost": u.cost_usd,
        }
        for u in page.items[:limit]
    ]
    return ok({"users": users, "count": page.total, "hasUsers": page.total > 0})
