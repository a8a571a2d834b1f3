"""Overview and facets for the dashboard, read from the rollups only (never the log): a range is widened to whole
buckets of one grain — minute for short recent ranges, hour up to 8 days, day beyond — and `Overview.range` says
which range the numbers cover. Shared helpers for the other rollup readers (users, properties) live here too."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    and_,
    cast,
    func,
    literal,
    select,
    union_all,
)

from .insights_types import Facets, Overview, SeriesPoint, TimeRange, Top, TopItem, Totals
from .rollup_journal import ensure_compacted
from .rollups import GRAIN_MS, MINUTE_KEEP_MS, bin_value, now_ms
from .schema_dashboard import WIDE_DIMS
from .schema_dashboard import rollups as r

GRAIN_NAMES = {"m": "minute", "h": "hour", "d": "day"}
_MAX_SERIES_POINTS = 1000


def plan(rng: TimeRange, now: int | None = None) -> tuple[str, str, TimeRange]:
    """(grain, series grain, effective range) for a requested range."""
    now = now_ms() if now is None else now
    span = rng.span_ms
    if span <= 6 * 3_600_000 and rng.start_ms - rng.start_ms % 60_000 >= now - MINUTE_KEEP_MS + 60_000:
        grain = "m"
    elif span <= 8 * 86_400_000:
        grain = "h"
    else:
        grain = "d"
    w = GRAIN_MS[grain]
    start = rng.start_ms - rng.start_ms % w
    end = -(-rng.end_ms // w) * w
    hours = (end - start) // GRAIN_MS["h"]
    series = "m" if grain == "m" else "h" if hours <= _MAX_SERIES_POINTS else "d"
    return grain, series, TimeRange(start, end)


def wide(grain: str, eff: TimeRange) -> tuple[str, TimeRange]:
    """Grain and range for users and property values (many distinct names): they have no minute buckets, so short
    ranges count whole hours; ranges over a day count whole days (a day row per user instead of 24 hour rows)."""
    if grain == "m" or (grain == "h" and eff.span_ms <= GRAIN_MS["d"]):
        w, grain = GRAIN_MS["h"], "h"
    else:
        w, grain = GRAIN_MS["d"], "d"
    return grain, TimeRange(eff.start_ms - eff.start_ms % w, -(-eff.end_ms // w) * w)


def where_rollups(org_id: str, grain: str, dim: str | tuple[str, ...], eff: TimeRange) -> Any:
    dim_clause = r.c.dim == dim if isinstance(dim, str) else r.c.dim.in_(dim)
    return and_(
        r.c.org_id == org_id,
        r.c.grain == grain,
        dim_clause,
        r.c.bucket >= eff.start_ms,
        r.c.bucket < eff.end_ms,
    )


def summed(col: str) -> Any:
    """SUM that comes back as int (or float for the latency sums) on both backends (PostgreSQL: numeric)."""
    kind = Float if col in ("latency_sum", "ttft_sum") else BigInteger
    return cast(func.coalesce(func.sum(r.c[col]), 0), kind)


USD = 1e9


def _percentiles(hist: dict[int, int], qs: tuple[float, ...]) -> list[float | None]:
    total = sum(hist.values())
    if total <= 0:
        return [None] * len(qs)
    out: list[float | None] = []
    bins = sorted(b for b, c in hist.items() if c > 0)
    for q in qs:
        need, cum = q * total, 0
        for b in bins:
            cum += hist[b]
            if cum >= need:
                out.append(round(bin_value(b), 1))
                break
        else:
            out.append(round(bin_value(bins[-1]), 1))
    return out


async def _top(conn: Any, org_id: str, grain: str, dim: str, eff: TimeRange, n: int) -> Top:
    """The top `n` by cost and by requests, from one aggregation (a CTE both orderings read)."""
    if dim in WIDE_DIMS:
        grain, eff = wide(grain, eff)
    value = r.c.value if dim == "property" else literal("").label("value")  # only properties have values
    g = (
        select(
            r.c.name,
            value,
            summed("requests").label("requests"),
            summed("errors").label("errors"),
            summed("cost_nano").label("cost"),
            summed("total_tokens").label("tokens"),
        )
        .where(where_rollups(org_id, grain, dim, eff))
        .group_by(r.c.name, *([r.c.value] if dim == "property" else []))
        .cte("grouped")
    )
    by_cost = select(literal("c").label("list"), g).order_by(g.c.cost.desc(), g.c.name, g.c.value).limit(n)
    by_reqs = (
        select(literal("r").label("list"), g).order_by(g.c.requests.desc(), g.c.name, g.c.value).limit(n)
    )
    lists: dict[str, list[TopItem]] = {"c": [], "r": []}
    both = union_all(select(by_cost.subquery()), select(by_reqs.subquery()))
    for x in (await conn.execute(both)).all():
        lists[x.list].append(
            TopItem(
                x.name,
                x.value if dim == "property" else None,
                int(x.requests),
                int(x.errors),
                int(x.cost) / USD,
                int(x.tokens),
            )
        )
    return Top(by_cost=lists["c"], by_requests=lists["r"])


async def overview(store: Any, org_id: str, rng: TimeRange, *, top: int = 10) -> Overview:
    await ensure_compacted(store)
    grain, series_grain, eff = plan(rng)
    metrics = (
        "requests",
        "errors",
        "cache_hits",
        "cost_nano",
        "cost_saved_nano",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "latency_sum",
        "latency_count",
    )
    async with store.engine.connect() as conn:
        t = (
            await conn.execute(
                select(*(summed(m).label(m) for m in metrics)).where(
                    where_rollups(org_id, grain, "total", eff)
                )
            )
        ).one()
        hist_rows = (
            await conn.execute(
                select(r.c.dim, r.c.name, summed("requests").label("n"))
                .where(where_rollups(org_id, grain, ("lat", "ttft"), eff))
                .group_by(r.c.dim, r.c.name)
            )
        ).all()
        series_rows = (
            await conn.execute(  # one 'total' row per bucket: no grouping
                select(r.c.bucket, *(r.c[m] for m in metrics)).where(
                    where_rollups(org_id, series_grain, "total", eff)
                )
            )
        ).all()
        tops = [
            await _top(conn, org_id, grain, dim, eff, top)
            for dim in ("model", "provider", "user", "property")
        ]
    hists: dict[str, dict[int, int]] = {"lat": {}, "ttft": {}}
    for dim, name, n in hist_rows:
        hists[dim][int(name)] = hists[dim].get(int(name), 0) + int(n)
    lat, ttft = _percentiles(hists["lat"], (0.5, 0.95, 0.99)), _percentiles(hists["ttft"], (0.5, 0.95, 0.99))
    n = int(t.requests)
    totals = Totals(
        requests=n,
        errors=int(t.errors),
        error_rate=t.errors / n if n else 0.0,
        cost_usd=t.cost_nano / USD,
        prompt_tokens=int(t.prompt_tokens),
        completion_tokens=int(t.completion_tokens),
        cached_tokens=int(t.cached_tokens),
        cache_hits=int(t.cache_hits),
        cache_hit_rate=t.cache_hits / n if n else 0.0,
        cost_saved_usd=t.cost_saved_nano / USD,
        avg_latency_ms=round(t.latency_sum / t.latency_count, 1) if t.latency_count else None,
        latency_p50_ms=lat[0],
        latency_p95_ms=lat[1],
        latency_p99_ms=lat[2],
        ttft_p50_ms=ttft[0],
        ttft_p95_ms=ttft[1],
        ttft_p99_ms=ttft[2],
    )
    by_bucket = {int(row[0]): row for row in series_rows}
    width = GRAIN_MS[series_grain]
    series = []
    for b in range(eff.start_ms - eff.start_ms % width, eff.end_ms, width):
        row = by_bucket.get(b)
        if row is None:
            series.append(SeriesPoint(b))
            continue
        _, reqs, errs, hits, cost, _saved, pt, ct, _cached, lsum, lcount = row
        series.append(
            SeriesPoint(
                b,
                int(reqs),
                int(errs),
                cost / USD,
                int(pt),
                int(ct),
                int(hits),
                round(lsum / lcount, 1) if lcount else None,
            )
        )
    return Overview(
        range=eff,
        grain=GRAIN_NAMES[grain],
        series_grain=GRAIN_NAMES[series_grain],
        totals=totals,
        series=series,
        models=tops[0],
        providers=tops[1],
        users=tops[2],
        properties=tops[3],
    )


async def facets(store: Any, org_id: str, rng: TimeRange) -> Facets:
    await ensure_compacted(store)
    grain, _, eff = plan(rng)
    out: dict[str, list[str]] = {}
    async with store.engine.connect() as conn:
        for dim in ("model", "provider", "property"):
            g, e = wide(grain, eff) if dim in WIDE_DIMS else (grain, eff)
            q = select(r.c.name).distinct().where(where_rollups(org_id, g, dim, e)).where(r.c.name != "")
            out[dim] = sorted(x[0] for x in (await conn.execute(q.limit(500))).all())
    return Facets(models=out["model"], providers=out["provider"], property_keys=out["property"])
