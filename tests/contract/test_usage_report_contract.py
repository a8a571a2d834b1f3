"""stores/usage_report.py on SQLite and PostgreSQL: usage per Stripe customer, per organisation and period."""

from __future__ import annotations

import uuid

from switchyard.stores.sql import SQLStore
from switchyard.stores.usage_report import CUSTOMER_PROPERTY, usage_by_customer

T0 = 1_700_000_000_000


def rec(org_id: str, **kw):
    r = {
        "id": str(uuid.uuid4()),
        "org_id": org_id,
        "key_id": None,
        "created_at": T0,
        "path": "/v1/chat/completions",
        "requested_model": "gpt-4o-mini",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "status": 200,
        "error": None,
        "stream": False,
        "cache_hit": False,
        "latency_ms": 12.5,
        "ttft_ms": None,
        "overhead_ms": 0.4,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": 0.0001,
        "user_id": None,
        "session_id": None,
        "session_path": None,
        "session_name": None,
        "prompt_id": None,
        "properties": {},
        "request_body": None,
        "response_body": None,
        "attempts": [],
    }
    r.update(kw)
    return r


async def test_usage_by_customer_sums_per_customer_within_the_period_and_the_org(store: SQLStore) -> None:
    org = await store.create_org(f"usage-{uuid.uuid4().hex[:8]}")
    other = await store.create_org(f"usage-{uuid.uuid4().hex[:8]}")

    def r(org_id: str, customer: str | None, at: int = T0, **kw):
        props = {CUSTOMER_PROPERTY: customer} if customer else {}
        return rec(org_id, created_at=at, properties={**props, "env": "prod"}, **kw)

    await store.insert_requests(
        [
            r(org.id, "cus_A"),
            r(org.id, "cus_A", prompt_tokens=30, completion_tokens=7, cost_usd=0.002),
            r(org.id, "cus_B", cost_usd=None),
            r(org.id, None),
            r(org.id, "cus_A", at=T0 + 3_600_000),  # after the period
            r(other.id, "cus_A"),
            r(other.id, "cus_C"),  # another organisation's customers
        ]
    )
    got = await usage_by_customer(store, org.id, T0, T0 + 1000)
    assert got == [
        {
            "customer": "cus_A",
            "requests": 2,
            "prompt_tokens": 40,
            "completion_tokens": 12,
            "cost_usd": 0.0021,
        },
        {"customer": "cus_B", "requests": 1, "prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.0},
    ]
    assert await usage_by_customer(store, org.id, T0 + 1000, T0 + 2000) == []
    assert [d["customer"] for d in await usage_by_customer(store, other.id, 0, T0 + 1000)] == [
        "cus_A",
        "cus_C",
    ]
