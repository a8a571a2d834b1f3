"""Requests: the filtered table with cursor pagination, and its CSV / JSONL export (streamed)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from ..errors import bad_request
from ..stores import insights as ins
from .guard import Ctx
from .params import CACHE_CHOICES, FEEDBACK_CHOICES, PRESET_LABELS, STATUS_CHOICES, request_filters

PAGE_SIZE = 50
EXPORT_COLUMNS = (*ins.ROW_COLUMNS, "properties", "feedback")


async def requests_page(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    q = ctx.request.query_params
    f = request_filters(q)
    cursor = q.get("cursor") or None
    try:
        page = await ins.list_requests(
            ctx.deps.store, viewer.org.id, f.to_filter(), limit=PAGE_SIZE, cursor=cursor
        )
    except ins.InsightsError as e:
        f.problem = str(e)
        page = ins.RequestPage(items=[], next_cursor=None)
    next_url = f"/dashboard/requests?{f.query(cursor=page.next_cursor)}" if page.next_cursor else None
    if q.get("fragment") == "rows":  # htmx "Load more": only the new rows and the next button
        return ctx.render("requests_rows.html", rows=page.items, next_url=next_url, filters=f)
    facets = await ins.facets(ctx.deps.store, viewer.org.id, f.choice.rng)
    return ctx.render(
        "requests.html",
        active="requests",
        filters=f,
        choice=f.choice,
        presets=PRESET_LABELS,
        rows=page.items,
        next_url=next_url,
        facets=facets,
        statuses=STATUS_CHOICES,
        caches=CACHE_CHOICES,
        feedbacks=FEEDBACK_CHOICES,
        paged=cursor is not None,
        filtered=bool(f.values or f.properties),
        export_query=f.query(),
    )


def _cell(v: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula gets a leading quote (CSV injection)."""
    if isinstance(v, dict | list):
        v = orjson.dumps(v).decode()
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


async def _csv(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(EXPORT_COLUMNS)
    n = 0
    async for row in rows:
        w.writerow([_cell(row.get(c)) for c in EXPORT_COLUMNS])
        n += 1
        if n % 200 == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


async def _jsonl(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    chunk: list[bytes] = []
    async for row in rows:
        chunk.append(orjson.dumps(row) + b"\n")
        if len(chunk) >= 200:
            yield b"".join(chunk)
            chunk = []
    yield b"".join(chunk)


async def export(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    fmt = ctx.request.path_params["fmt"]
    if fmt not in ("csv", "jsonl"):
        raise bad_request("Export as csv or jsonl.")
    f = request_filters(ctx.request.query_params)
    bodies = fmt == "jsonl" and ctx.request.query_params.get("bodies") == "1"
    rows = ins.iter_requests(ctx.deps.store, viewer.org.id, f.to_filter(), include_bodies=bodies)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    name = f"switchyard-requests-{viewer.org.name}.{fmt}".replace('"', "").replace("/", "-")
    safe_name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return StreamingResponse(
        _csv(rows) if fmt == "csv" else _jsonl(rows),
        media_type=media,
        headers={"content-disposition": f'attachment; filename="{safe_name}"'},
    )
