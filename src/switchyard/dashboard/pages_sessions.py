"""Sessions: the list, and one session's requests as a tree by Helicone-Session-Path with a waterfall."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.responses import Response

from ..errors import GatewayError
from ..stores import insights as ins
from .guard import Ctx
from .params import PRESET_LABELS, time_range


@dataclass(frozen=True, slots=True)
class Bar:
    depth: int
    segment: str
    path: str
    row: ins.RequestRow | None  # None: a path node without a request of its own
    x: float  # percent of the session's span
    w: float
    count: int


async def sessions_page(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    q = ctx.request.query_params
    choice = time_range(q, default="7d")
    search = (q.get("search") or "").strip()[:200] or None
    problem = choice.problem
    try:
        page = await ins.list_sessions(
            ctx.deps.store, viewer.org.id, choice.rng, search=search, limit=50, cursor=q.get("cursor") or None
        )
    except ins.InsightsError as e:
        problem, page = str(e), ins.SessionPage(items=[], next_cursor=None)
    next_url = None
    if page.next_cursor:
        next_url = "/dashboard/sessions?" + urlencode(
            {**choice.query, **({"search": search} if search else {}), "cursor": page.next_cursor}
        )
    return ctx.render(
        "sessions.html",
        active="sessions",
        choice=choice,
        presets=PRESET_LABELS,
        page=page,
        search=search or "",
        next_url=next_url,
        problem=problem,
    )


def waterfall(trace: ins.SessionTrace) -> list[Bar]:
    """The tree flattened depth-first: one bar per request, and a label row per path node."""
    rows = trace.requests
    start = min((r.created_at for r in rows), default=0)
    end = max((r.created_at + int(r.latency_ms or 0) for r in rows), default=start)
    span = max(end - start, 1)
    bars: list[Bar] = []

    def walk(node: ins.TreeNode, depth: int) -> None:
        count = len(node.requests)
        if not node.requests or node.children:
            bars.append(Bar(depth, node.segment or "/", node.path, None, 0, 0, count))
        for r in sorted(node.requests, key=lambda r: r.created_at):
            x = (r.created_at - start) / span * 100
            w = max(float(r.latency_ms or 0) / span * 100, 0.6)
            bars.append(
                Bar(
                    depth + (1 if node.children else 0),
                    node.segment or "/",
                    node.path,
                    r,
                    round(x, 2),
                    round(min(w, 100 - x), 2),
                    count,
                )
            )
        for child in node.children:
            walk(child, depth + 1)

    for root in trace.tree:
        walk(root, 0)
    return bars


async def session_page(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    trace = await ins.session_trace(ctx.deps.store, viewer.org.id, ctx.request.path_params["session_id"])
    if trace is None:
        raise GatewayError(404, "No session with that id in this organisation.", code="session_not_found")
    return ctx.render("session.html", active="sessions", trace=trace, s=trace.summary, bars=waterfall(trace))
