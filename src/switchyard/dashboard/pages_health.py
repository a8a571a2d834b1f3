"""Health: providers and their circuit breakers, the store, Redis, the log sink's queue and spool.

Read from the running process's own objects (`deps.health`, `deps.sink`, `deps.limits`); the store and Redis are
pinged live with a short timeout so the page answers even when they do not.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.responses import Response

from .guard import Ctx

PING_TIMEOUT = 1.0


async def _ping(coro: Any) -> tuple[bool, float | None, str | None]:
    t = time.perf_counter()
    try:
        async with asyncio.timeout(PING_TIMEOUT):
            await coro
    except Exception as e:  # any failure is a status to show, not an error page
        return False, None, type(e).__name__
    return True, (time.perf_counter() - t) * 1000, None


def _providers(deps: Any, org_id: str) -> list[dict[str, Any]]:
    """Configured providers with the state of their breakers: the gateway's shared endpoints and the current
    organisation's BYOK endpoints, never another organisation's (the admin switches organisation to see those)."""
    circuits: dict[str, list[dict[str, Any]]] = {}
    for c in deps.health.snapshot():
        endpoint = str(c.get("endpoint", ""))  # "<provider>:ptb" or "<provider>:byok:<org id>:<key id>"
        provider, _, rest = endpoint.partition(":")
        if rest.startswith("byok:") and not rest.startswith(f"byok:{org_id}:"):  # other organisations' keys
            continue
        label = "gateway key" if rest == "ptb" else "BYOK " + rest.rsplit(":", 1)[-1]
        circuits.setdefault(provider, []).append({**c, "label": label})
    out = []
    for pid, info in sorted(deps.registry.providers.items()):
        has_key = bool(info.api_key) or not info.needs_key
        cs = circuits.pop(pid, [])
        if not has_key and not cs:
            continue
        worst = (
            "open"
            if any(c["state"] == "open" for c in cs)
            else ("half_open" if any(c["state"] == "half_open" for c in cs) else "closed")
        )
        out.append(
            {
                "id": pid,
                "format": info.format,
                "gateway_key": bool(info.api_key),
                "state": worst,
                "circuits": cs,
            }
        )
    for pid, cs in sorted(circuits.items()):
        out.append({"id": pid, "format": "", "gateway_key": False, "state": cs[0]["state"], "circuits": cs})
    return out


async def health_page(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    deps = ctx.deps
    store_ok, store_ms, store_err = await _ping(deps.store.ping())
    redis = None
    if deps.settings.redis.url:
        if deps.limits.shared:
            ok, rtt, err = await _ping(deps.limits.backend.ping())
        else:
            ok, rtt, err = False, None, "not connected"
        redis = {"ok": ok, "ms": rtt, "error": err, "on_failure": deps.settings.redis.on_failure}
    sink = deps.sink
    try:
        spool_files = len(sink.spool.pending())
    except OSError:
        spool_files = None
    return ctx.render(
        "health.html",
        active="health",
        providers=_providers(deps, viewer.org.id),
        store={
            "ok": store_ok,
            "ms": store_ms,
            "error": store_err,
            "backend": deps.settings.database_url.split(":", 1)[0].split("+", 1)[0],
        },
        redis=redis,
        sink={
            "backlog": sink.backlog,
            "queue_size": deps.settings.log.queue_size,
            "spool_files": spool_files,
            "store_up": sink.store_up,
            "written": sink.written,
            "spooled": sink.spooled,
        },
    )
