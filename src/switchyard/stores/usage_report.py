"""Usage per Stripe customer and period (`Helicone-Stripe-Customer-Id`), for metering and invoices.

The customer travels as the property `helicone-stripe-customer-id` (Helicone logs it under that name too), so it
lives in `request_properties` beside every other property and needs no column of its own. The report counts rows
in the period `[start, end)` of their creation time; the Stripe meter counts them in the period in which they
finished (creation + latency), because it sends a period once and a request started in it can be logged long after
(a stream may run for hours): counted by its start, such a row landed after its period was sent and was never
billed. Cache hits count as requests with their (zero) cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select

from .schema import request_properties, requests, text_hash

CUSTOMER_PROPERTY = "helicone-stripe-customer-id"
# How long before its period a request that finished in it may have started: the longest a caller can make one
# last (`Switchyard-Timeout-Ms` is capped at 24 hours) and an hour of margin.
LONGEST_REQUEST_MS = 25 * 3_600_000


def _query(org_ids: Sequence[str], start_ms: int, end_ms: int, by_end: bool = False) -> Any:
    """(org_id, customer, requests, prompt_tokens, completion_tokens, cost) per organisation and customer, in the
    organisations `org_ids`, read through the requests index on (org_id, created_at) rather than a scan of every
    organisation's requests."""
    p, r = request_properties, requests
    cost = func.coalesce(func.sum(r.c.cost_usd), 0.0)
    if by_end:
        ended = r.c.created_at + func.coalesce(r.c.latency_ms, 0)
        when = [r.c.created_at >= start_ms - LONGEST_REQUEST_MS, r.c.created_at < end_ms]
        when += [ended >= start_ms, ended < end_ms]
    else:
        when = [r.c.created_at >= start_ms, r.c.created_at < end_ms]
    q = (
        select(
            p.c.org_id,
            p.c.value,
            func.count(),
            func.coalesce(func.sum(r.c.prompt_tokens), 0),
            func.coalesce(func.sum(r.c.completion_tokens), 0),
            cost,
        )
        .select_from(p.join(r, and_(r.c.id == p.c.request_id, r.c.org_id == p.c.org_id)))
        .where(
            # on both sides of the join: PostgreSQL carries `org_id = x` across it, but not `org_id IN (x, y)`
            p.c.org_id.in_(org_ids),
            r.c.org_id.in_(org_ids),
            p.c.key_hash == text_hash(CUSTOMER_PROPERTY),
            p.c.key == CUSTOMER_PROPERTY,
            *when,
        )
        .group_by(p.c.org_id, p.c.value)
        .order_by(cost.desc(), p.c.value)
    )
    return q


def _row(org_id: str, value: str, n: Any, pt: Any, ct: Any, c: Any) -> dict[str, Any]:
    return {
        "customer": value,
        "requests": int(n),
        "prompt_tokens": int(pt),
        "completion_tokens": int(ct),
        "cost_usd": round(float(c), 9),
    }


async def usage_by_customer(store: Any, org_id: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """[{customer, requests, prompt_tokens, completion_tokens, cost_usd}], most expensive first."""
    async with store.engine.connect() as conn:
        rows = (await conn.execute(_query([org_id], start_ms, end_ms))).all()
    return [_row(*r) for r in rows]


async def usage_by_org_and_customer(
    store: Any, org_ids: Sequence[str], start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """Usage of the requests that finished in `[start, end)`, in the organisations `org_ids` (none: nothing), each
    row with its `org_id` (what the Stripe meter sends)."""
    if not org_ids:
        return []
    async with store.engine.connect() as conn:
        rows = (await conn.execute(_query(org_ids, start_ms, end_ms, by_end=True))).all()
    return [{"org_id": r[0], **_row(*r)} for r in rows]
