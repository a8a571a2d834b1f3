"""Request detail: the conversation, the response, attempts, cost breakdown, properties, feedback and scores."""

from __future__ import annotations

import math
import shlex
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ..errors import GatewayError, bad_request
from ..observe.cost import price_for
from ..stores import insights as ins
from . import conversation as conv
from .guard import Ctx

MAX_CURL_BODY = 200_000


def not_found() -> GatewayError:
    return GatewayError(404, "No request with that id in this organisation.", code="request_not_found")


def curl_command(base_url: str, d: ins.RequestDetail) -> str:
    """The request as curl, with the key replaced by $SWITCHYARD_KEY (the logged key is never known anyway)."""
    row = d.row
    lines = [
        f"curl {shlex.quote(base_url + row.path)}",
        '-H "Authorization: Bearer $SWITCHYARD_KEY"',
        "-H 'Content-Type: application/json'",
    ]
    headers = []
    if row.user_id:
        headers.append(("Helicone-User-Id", row.user_id))
    if row.session_id:
        headers.append(("Helicone-Session-Id", row.session_id))
    if row.session_path:
        headers.append(("Helicone-Session-Path", row.session_path))
    if row.session_name:
        headers.append(("Helicone-Session-Name", row.session_name))
    # session headers are mirrored into properties as helicone-session-*; they are already sent above
    headers += [
        (f"Helicone-Property-{k}", v)
        for k, v in sorted(row.properties.items())
        if not k.lower().startswith("helicone-")
    ]
    lines += [f"-H {shlex.quote(f'{k}: {v}')}" for k, v in headers]
    body = d.request_body
    if body is None:
        lines.append("-d '<request body not stored>'")
    elif len(body) > MAX_CURL_BODY:
        lines.append("-d '<request body too large to copy>'")
    else:
        lines.append(f"-d {shlex.quote(body)}")
    return " \\\n  ".join(lines)


def cost_lines(registry: Any, d: ins.RequestDetail) -> list[tuple[str, str, float]]:
    """(what, tokens × price, USD) per priced part, from the registry's price for the model and provider that
    answered. The registry model is the one the gateway planned (the answering attempt's `source`), not the
    provider's dated model name; lines that do not add up to the logged cost (a price changed since) are not
    shown."""
    row = d.row
    planned = [a.get("source") for a in d.attempts if a.get("status") == row.status and a.get("source")]
    names = [str(planned[-1]).split("/")[0]] if planned else []
    names += [row.requested_model or "", row.model or ""]
    info = next((m for m in map(registry.model, filter(None, names)) if m is not None), None)
    ep = info.endpoints.get(row.provider or "") if info else None
    # a call is priced when it ends (time-of-day prices)
    priced_at = row.created_at + int(row.latency_ms or 0)
    price = price_for(ep, row.prompt_tokens or 0, priced_at) if ep else None
    if price is None or row.cost_usd is None:
        return []
    prompt = row.prompt_tokens or 0
    cached = min(row.cached_tokens or 0, prompt)
    written = min(d.cache_write_tokens or 0, prompt - cached)
    fresh = prompt - cached - written
    parts = [
        ("Input", fresh, price.input),
        ("Cached input", cached, price.cached_input if price.cached_input is not None else price.input),
        ("Cache write", written, price.cache_write if price.cache_write is not None else price.input),
        ("Output", row.completion_tokens or 0, price.output),
    ]
    lines = [(what, f"{n:,} × ${p:g}/1M", n * p / 1_000_000) for what, n, p in parts if n]
    total = sum(x[2] for x in lines)
    return lines if abs(total - row.cost_usd) <= max(1e-9, 0.01 * row.cost_usd) else []


def timeline(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attempts laid end to end (hedges start beside the try they hedge), as percentages of the total span."""
    spans: list[tuple[float, float]] = []
    t = 0.0
    for a in attempts:
        lat = a.get("latency_ms")
        lat = float(lat) if isinstance(lat, int | float) and math.isfinite(lat) else 0.0
        start = spans[-1][0] if a.get("note") == "hedge" and spans else t
        spans.append((start, lat))
        t = max(t, start + lat)
    total = t or 1.0
    out = []
    for a, (start, lat) in zip(attempts, spans, strict=True):
        ok = isinstance(a.get("status"), int) and a["status"] < 400 and not a.get("error")
        base = {
            k: None for k in ("provider", "model", "status", "error", "kind", "latency_ms", "source", "note")
        }
        out.append(
            {
                **base,
                **a,
                "x": round(start / total * 100, 2),
                "w": round(max(lat / total * 100, 0.8), 2),
                "ok": ok,
                "label": a.get("note") or ("retry" if a.get("retry") else ""),
            }
        )
    return out


async def detail(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    d = await ins.request_detail(ctx.deps.store, viewer.org.id, ctx.request.path_params["request_id"])
    if d is None:
        raise not_found()
    req = conv.load(d.request_body)
    resp = conv.load(d.response_body)
    return ctx.render(
        "request.html",
        active="requests",
        d=d,
        r=d.row,
        request_turns=conv.request_turns(req),
        response_turns=conv.response_turns(resp),
        attempts=timeline(d.attempts),
        cost_lines=cost_lines(ctx.deps.registry, d),
        curl=curl_command(ctx.base_url, d),
    )


async def feedback(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    rid = ctx.request.path_params["request_id"]
    rating = ctx.form.get("rating")
    if rating not in ("good", "bad"):
        raise bad_request("Feedback is Good or Bad.")
    if not await ins.set_feedback(ctx.deps.store, viewer.org.id, rid, rating == "good"):
        raise not_found()
    return await _feedback_panel(ctx, rid)


async def score(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    rid = ctx.request.path_params["request_id"]
    name = ctx.form.get("name", "").strip()
    try:
        value = float(ctx.form.get("value", ""))
    except ValueError:
        value = math.nan
    if not name or len(name) > 100 or not math.isfinite(value):
        raise bad_request("A score needs a name and a number.")
    if not await ins.set_scores(ctx.deps.store, viewer.org.id, rid, {name: value}):
        raise not_found()
    return await _feedback_panel(ctx, rid)


async def _feedback_panel(ctx: Ctx, rid: str) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    if ctx.request.headers.get("hx-request") != "true":
        return ctx.redirect(f"/dashboard/requests/{quote(rid, safe='')}")
    d = await ins.request_detail(ctx.deps.store, viewer.org.id, rid)
    if d is None:
        raise not_found()
    return ctx.render("feedback_panel.html", d=d, saved=True)
