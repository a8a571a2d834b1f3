"""Helicone's session endpoints over the sessions summary the log writer maintains: POST /v1/session/query
(SessionResult[]), POST /v1/session/metrics/query (histograms of requests, duration and cost per session), and
GET /v1/session/{session_id} (Switchyard: one session's summary and its requests as a Helicone-Session-Path tree)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import bad_request
from ..stores import insights
from .rest import iso, json_body, not_found, ok, org_scoped, paging, time_filter

_METRICS_MAX_SESSIONS = 10_000


def session_result(s: insights.SessionSummary) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "session_name": s.name or "",
        "created_at": iso(s.first_at),
        "latest_request_created_at": iso(s.last_at),
        "total_cost": s.cost_usd,
        "total_requests": s.requests,
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "total_tokens": s.total_tokens,
        "avg_latency": s.avg_latency_ms or 0,
        "user_ids": [s.user_id] if s.user_id else [],
        "duration_ms": s.duration_ms,
        "errors": s.errors,
    }


def request_summary(r: insights.RequestRow) -> dict[str, Any]:
    return {
        "request_id": r.id,
        "request_created_at": iso(r.created_at),
        "session_path": r.session_path,
        "model": r.model,
        "provider": r.provider,
        "response_status": r.status,
        "delay_ms": r.latency_ms,
        "time_to_first_token": r.ttft_ms,
        "costUSD": r.cost_usd,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.total_tokens,
        "request_user_id": r.user_id,
        "cache_hit": r.cache_hit,
        "feedback_rating": r.feedback,
        "start_ms": r.created_at,
        "end_ms": r.created_at + int(r.latency_ms or 0),
    }


def _tree(nodes: list[insights.TreeNode]) -> list[dict[str, Any]]:
    return [
        {
            "segment": n.segment,
            "path": n.path,
            "request_ids": [r.id for r in n.requests],
            "children": _tree(n.children),
        }
        for n in nodes
    ]


def _text(body: dict[str, Any], name: str) -> str | None:
    v = body.get(name)
    if v is not None and not isinstance(v, str):
        raise bad_request(f"'{name}' must be a string.", param=name)
    return v or None


@org_scoped
async def query_sessions(request: Request, org_id: str) -> Response:
    body = await json_body(request)
    limit, offset = paging(body, default_limit=100)
    page = await insights.list_sessions(
        request.app.state.deps.store,
        org_id,
        time_filter(body, 1, "startTimeUnixMs", "endTimeUnixMs"),
        search=_text(body, "search"),
        name_equals=_text(body, "nameEquals"),
        filter=body.get("filter", "all"),
        limit=max(limit, 1),
        offset=offset,
    )
    return ok([session_result(s) for s in page.items[:limit]])


def _histogram(values: list[float], bins: int = 10) -> list[dict[str, Any]]:
    if not values:
        return []
    lo, hi = min(values), max(values)
    width = (hi - lo) / bins or 1
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    return [
        {"range_start": str(lo + i * width), "range_end": str(lo + (i + 1) * width), "value": c}
        for i, c in enumerate(counts)
        if c
    ]


@org_scoped
async def session_metrics(request: Request, org_id: str) -> Response:
    body = await json_body(request)
    store, rng = request.app.state.deps.store, time_filter(body, 1, "startTimeUnixMs", "endTimeUnixMs")
    sessions: list[insights.SessionSummary] = []
    cursor = None
    while len(sessions) < _METRICS_MAX_SESSIONS:
        page = await insights.list_sessions(
            store,
            org_id,
            rng,
            search=_text(body, "nameContains"),
            filter=body.get("filter", "all"),
            limit=1000,
            cursor=cursor,
        )
        sessions += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    count = [float(s.requests) for s in sessions]
    duration = [float(s.duration_ms) for s in sessions]
    cost = [s.cost_usd for s in sessions]

    def avg(v: list[float]) -> list[dict[str, float]]:
        return [{"average": sum(v) / len(v)}] if v else []

    return ok(
        {
            "session_count": _histogram(count),
            "session_duration": _histogram(duration),
            "session_cost": _histogram(cost),
            "average": {
                "session_count": avg(count),
                "session_duration": avg(duration),
                "session_cost": avg(cost),
            },
        }
    )


@org_scoped
async def get_session(request: Request, org_id: str) -> Response:
    trace = await insights.session_trace(
        request.app.state.deps.store, org_id, request.path_params["session_id"]
    )
    if trace is None:
        raise not_found("session")
    return ok(
        {
            "session": session_result(trace.summary),
            "requests": [request_summary(r) for r in trace.requests],
            "tree": _tree(trace.tree),
        }
    )
