"""Usage per Stripe customer and period, as `GET /admin/v1/orgs/{org}/usage` and `switchyard usage` report it.

`start` and `end` are ISO 8601 (`2026-01-01`, `2026-01-01T00:00:00Z`; a time without an offset is UTC); the period
is `[start, end)`, by default the last 30 days. `group_by` is `customer` (the `Helicone-Stripe-Customer-Id` header).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from ..errors import GatewayError
from ..stores.usage_report import usage_by_customer
from .base import store_errors
from .orgs import resolve_org

GROUPS = ("customer",)
DEFAULT_DAYS = 30


def _instant(name: str, raw: str) -> int:
    try:
        t = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise GatewayError(
            400,
            f"{name} {raw[:40]!r}: expected an ISO 8601 date or time, e.g. 2026-01-01 or 2026-01-01T00:00:00Z",
            code="invalid_request",
            param=name,
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp() * 1000)


def period(start: str | None, end: str | None, now_ms: int | None = None) -> tuple[int, int]:
    now = int(time.time() * 1000) if now_ms is None else now_ms
    end_ms = _instant("end", end) if end else now
    start_ms = _instant("start", start) if start else end_ms - DEFAULT_DAYS * 86_400_000
    if start_ms >= end_ms:
        raise GatewayError(400, "start must be before end.", code="invalid_request", param="start")
    return start_ms, end_ms


def check_group(group_by: str | None) -> str:
    g = (group_by or "customer").strip().lower()
    if g not in GROUPS:
        raise GatewayError(
            400,
            f"group_by {g[:40]!r}: expected one of {', '.join(GROUPS)}.",
            code="invalid_request",
            param="group_by",
        )
    return g


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


async def usage_report(
    store: Any, org_ref: str, group_by: str | None, start: str | None, end: str | None
) -> dict[str, Any]:
    check_group(group_by)
    start_ms, end_ms = period(start, end)
    org = await resolve_org(store, org_ref)
    with store_errors():
        data = await usage_by_customer(store, org.id, start_ms, end_ms)
    return {
        "data": data,
        "group_by": "customer",
        "start": _iso(start_ms),
        "end": _iso(end_ms),
        "org": org.name,
    }
