"""The webhook queue and the alert lease on every backend: a due delivery is claimed by one sender only, a
replayed message is queued once, a lease has one holder until it expires, and alerts read the rollups."""

from __future__ import annotations

import uuid

from switchyard.stores.sql_webhooks import WebhookStore


def _delivery(org: str, did: str, now: int) -> dict:
    return {
        "id": did,
        "org_id": org,
        "webhook_id": "wh-1",
        "alert_id": None,
        "url": "http://r/",
        "request_id": "r1",
        "payload": "{}",
        "status": "pending",
        "attempts": 0,
        "next_at": now,
        "last_status": None,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
    }


async def test_a_due_delivery_is_claimed_once_and_replays_queue_nothing_twice(store):
    ws, org, now = WebhookStore(store), str(uuid.uuid4()), 1_000_000
    did = "msg_" + uuid.uuid4().hex
    await ws.enqueue([_delivery(org, did, now)])
    await ws.enqueue([{**_delivery(org, did, now), "payload": '{"again": true}'}])  # a replayed log batch
    due = [r for r in await ws.due(now, 1000) if r.id == did]
    assert len(due) == 1 and due[0].payload == "{}"
    assert await ws.claim(did, due[0].next_at, now + 60_000) is True
    assert await ws.claim(did, due[0].next_at, now + 60_000) is False  # a second sender lost the race
    assert did not in {r.id for r in await ws.due(now + 1000, 1000)}  # leased, not due
    await ws.finish(
        did, status="pending", attempts=1, next_at=now + 5000, last_status=503, last_error="HTTP 503", now=now
    )
    assert did in {r.id for r in await ws.due(now + 5000, 1000)}
    await ws.finish(
        did,
        status="delivered",
        attempts=2,
        next_at=now + 6000,
        last_status=200,
        last_error=None,
        now=now + 6000,
    )
    assert did not in {r.id for r in await ws.due(now + 10**9, 1000)}
    rows = [r for r in await ws.deliveries("wh-1", 100, 0) if r.id == did]
    assert rows[0].status == "delivered" and rows[0].attempts == 2


async def test_lease_has_one_holder_until_it_expires(store):
    ws, name = WebhookStore(store), "test-" + uuid.uuid4().hex[:8]
    assert await ws.lease(name, "a", 1000, 3000) is True
    assert await ws.lease(name, "b", 2000, 3000) is False
    assert await ws.lease(name, "a", 2500, 3000) is True  # renewed by its holder: now until 5500
    assert await ws.lease(name, "b", 5000, 3000) is False
    assert await ws.lease(name, "b", 5600, 3000) is True  # expired: taken over
    assert await ws.lease(name, "a", 5700, 3000) is False


async def test_webhooks_and_rules_per_org(store):
    ws, org, other = WebhookStore(store), str(uuid.uuid4()), str(uuid.uuid4())
    h = await ws.create_webhook(org, "http://r/", "ciphertext", 0.5, {"team": "a"}, True, 1)
    assert [x.id for x in await ws.list_webhooks(org)] == [h.id]
    got = await ws.get_webhook(h.id)
    assert (
        got is not None
        and got.property_filter == {"team": "a"}
        and got.include_bodies
        and got.sample_rate == 0.5
    )
    assert await ws.delete_webhook(other, h.id) is False  # another organisation cannot remove it
    assert await ws.delete_webhook(org, h.id) is True and await ws.list_webhooks(org) == []
    rule = await ws.create_rule(org, "spend", "cost_usd", 60, 5.0, "http://r/", 1)
    await ws.rule_evaluated(rule.id, 7.5, 10, state="firing")
    (r,) = await ws.list_rules(org)
    assert r.state == "firing" and r.last_value == 7.5 and r.changed_at == 10
    assert await ws.delete_rule(other, rule.id) is False and await ws.delete_rule(org, rule.id) is True
    assert await ws.window_totals(org, 0) == (0, 0, 0) and await ws.latency_bins(org, 0) == []
