"""Overview: totals, charts over time and the top models, providers, users and property values."""

from __future__ import annotations

from starlette.responses import Response

from ..stores import insights as ins
from .guard import Ctx
from .params import PRESET_LABELS, time_range


def chart_data(ov: ins.Overview) -> dict[str, list]:
    """Columns for uPlot: x in epoch seconds, one list per series (None where there is no value)."""
    pts = ov.series
    return {
        "x": [p.bucket_ms // 1000 for p in pts],
        "requests": [p.requests for p in pts],
        "errors": [p.errors for p in pts],
        "cost": [round(p.cost_usd, 9) for p in pts],
        "prompt_tokens": [p.prompt_tokens for p in pts],
        "completion_tokens": [p.completion_tokens for p in pts],
        "latency": [None if p.avg_latency_ms is None else round(p.avg_latency_ms, 1) for p in pts],
    }


async def overview(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    choice = time_range(ctx.request.query_params, default="24h")
    rank = "requests" if ctx.request.query_params.get("rank") == "requests" else "cost"
    ov = await ins.overview(ctx.deps.store, viewer.org.id, choice.rng, top=8)
    tops = []
    for title, top in (
        ("Models", ov.models),
        ("Providers", ov.providers),
        ("Users", ov.users),
        ("Property values", ov.properties),
    ):
        tops.append((title, top.by_requests if rank == "requests" else top.by_cost))
    return ctx.render(
        "overview.html",
        active="overview",
        choice=choice,
        presets=PRESET_LABELS,
        ov=ov,
        t=ov.totals,
        tops=tops,
        rank=rank,
        chart=chart_data(ov),
        filter_keys={"Models": "model", "Providers": "provider", "Users": "user"},
    )
