"""Users (with how much of each per-user limit they use) and the property breakdown."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.responses import Response

from ..stores import insights as ins
from ..stores.base import LimitRule
from .guard import Ctx
from .params import PRESET_LABELS, time_range

PAGE = 50
USAGE_SCAN = 1000  # users read per limit window: the heaviest ones, which are the ones near a limit


@dataclass(frozen=True, slots=True)
class LimitUse:
    rule: LimitRule
    source: str  # "organisation" or "key <name>"
    used: float
    fraction: float

    @property
    def label(self) -> str:
        unit = {"usd": "USD", "tokens": "tokens", "requests": "requests"}[self.rule.metric]
        return f"{self.rule.limit:g} {unit} / {window(self.rule.window_seconds)} ({self.source})"


def window(seconds: int) -> str:
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % n == 0:
            return f"{seconds // n} {unit}"
    return f"{seconds} s"


async def _user_rules(ctx: Ctx) -> list[tuple[LimitRule, str]]:
    viewer = ctx.viewer
    assert viewer is not None
    rules = [(r, "organisation") for r in viewer.org.limits if r.per == "user"]
    for k in await ctx.deps.store.list_keys(viewer.org.id):
        if k.active:  # a key's rule counts that key's calls only; the use shown (all keys) is an upper bound
            rules += [(r, f"key {k.name or k.prefix}, upper bound") for r in k.limits if r.per == "user"]
    return rules


def _used(rule: LimitRule, u: ins.UserSummary) -> float:
    return {"usd": u.cost_usd, "tokens": float(u.total_tokens), "requests": float(u.requests)}[rule.metric]


async def limit_use(ctx: Ctx, users: list[ins.UserSummary]) -> dict[str, list[LimitUse]]:
    """Per user on the page: the use of every per-user rule over its window (from the logs' rollups)."""
    viewer = ctx.viewer
    assert viewer is not None
    rules = await _user_rules(ctx)
    out: dict[str, list[LimitUse]] = {u.user_id: [] for u in users}
    windows: dict[tuple[int, str], dict[str, ins.UserSummary]] = {}
    for rule, source in rules:
        sort = "requests" if rule.metric == "requests" else "cost"
        wkey = (rule.window_seconds, sort)
        if wkey not in windows:
            page = await ins.list_users(
                ctx.deps.store,
                viewer.org.id,
                ins.TimeRange.last(rule.window_seconds),
                sort=sort,
                limit=USAGE_SCAN,
            )
            windows[wkey] = {u.user_id: u for u in page.items}
        for user_id, uses in out.items():
            u = windows[wkey].get(user_id)
            used = _used(rule, u) if u else 0.0
            uses.append(LimitUse(rule, source, used, min(used / rule.limit, 1.0) if rule.limit else 0.0))
    return out


async def users_page(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    q = ctx.request.query_params
    choice = time_range(q, default="30d")
    search = (q.get("search") or "").strip()[:200] or None
    sort = s if (s := q.get("sort")) in ("cost", "requests", "last_seen") else "cost"
    try:
        offset = max(0, int(q.get("offset") or 0))
    except ValueError:
        offset = 0
    page = await ins.list_users(
        ctx.deps.store, viewer.org.id, choice.rng, search=search, sort=sort, limit=PAGE, offset=offset
    )
    base = {**choice.query, **({"search": search} if search else {}), "sort": sort}
    next_url = (
        f"/dashboard/users?{urlencode({**base, 'offset': offset + PAGE})}"
        if offset + PAGE < page.total
        else None
    )
    prev_url = f"/dashboard/users?{urlencode({**base, 'offset': max(0, offset - PAGE)})}" if offset else None
    return ctx.render(
        "users.html",
        active="users",
        choice=choice,
        presets=PRESET_LABELS,
        page=page,
        search=search or "",
        sort=sort,
        uses=await limit_use(ctx, page.items),
        next_url=next_url,
        prev_url=prev_url,
        offset=offset,
        problem=choice.problem,
    )


async def properties_page(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    q = ctx.request.query_params
    choice = time_range(q, default="30d")
    key = (q.get("key") or "").strip()[:200] or None
    bd = await ins.property_breakdown(ctx.deps.store, viewer.org.id, choice.rng, key=key, limit=50)
    if key is None and bd.keys:
        key = bd.keys[0].key
        bd = await ins.property_breakdown(ctx.deps.store, viewer.org.id, choice.rng, key=key, limit=50)
    return ctx.render(
        "properties.html",
        active="properties",
        choice=choice,
        presets=PRESET_LABELS,
        bd=bd,
        key=key,
        problem=choice.problem,
    )
