"""Session pins shared through Redis (stores/pins_redis.py with pipeline/session_pins.py), against the machine's
Redis: a pin written by one gateway process is read by another, expires in Redis at its lifetime, stays inside
its organisation, and a Redis that does not answer leaves each process its own pins. Under CI=true a missing
Redis fails these tests (tests/support/services.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from support.services import drop_prefix, fresh_prefix, require_redis
from switchyard.config import AffinitySettings
from switchyard.pipeline.session_pins import SessionPins, identity
from switchyard.stores.base import StoreUnavailable
from switchyard.stores.pins_redis import RedisPins
from unit.test_session_pins import ctx_for, three_keys

pytestmark = pytest.mark.redis


@pytest.fixture
async def shared() -> AsyncIterator[tuple[Redis, str]]:
    url, prefix = require_redis(), fresh_prefix("sy-pins")
    client = Redis.from_url(url)
    try:
        yield client, prefix
    finally:
        await client.aclose()
        drop_prefix(url, prefix)


async def settle(pins: SessionPins) -> None:
    await pins.close()  # the background writes have landed


async def test_a_pin_made_by_one_process_is_followed_by_another(shared) -> None:
    client, prefix = shared
    replica_a = SessionPins(AffinitySettings(), RedisPins(client, prefix, 1000))
    replica_b = SessionPins(AffinitySettings(), RedisPins(client, prefix, 1000))
    attempts = three_keys()
    pin = await replica_a.lookup(ctx_for(session="conv-1"))
    assert pin is not None and pin.target is None
    replica_a.served(pin, attempts[2])
    await settle(replica_a)
    seen = await replica_b.lookup(ctx_for(session="conv-1"))
    assert seen is not None and seen.target == identity(attempts[2])
    # B moves it (its attempt failed over to key a); A follows the move, though its own table says c
    replica_b.served(seen, attempts[0])
    await settle(replica_b)
    assert (await replica_a.lookup(ctx_for(session="conv-1"))).target == identity(attempts[0])
    # what Redis holds: a hash of the session and model under the organisation, and the endpoint id
    keys = [k.decode() async for k in client.scan_iter(match=prefix + "*")]
    assert len(keys) == 1 and keys[0].startswith(f"{prefix}pin:org-1:") and "conv-1" not in keys[0]
    assert (await client.get(keys[0])).decode() == identity(attempts[0])


async def test_the_pin_expires_in_redis_at_its_lifetime(shared) -> None:
    client, prefix = shared
    pins = SessionPins(AffinitySettings(ttl_seconds={"anthropic": 0.3}), RedisPins(client, prefix, 1000))
    pins.served(await pins.lookup(ctx_for(session="short")), three_keys()[1])
    await settle(pins)
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    assert len(keys) == 1 and 0 < await client.pttl(keys[0]) <= 300
    await asyncio.sleep(0.4)
    assert [k async for k in client.scan_iter(match=prefix + "*")] == []
    fresh = SessionPins(AffinitySettings(), RedisPins(client, prefix, 1000))
    assert (await fresh.lookup(ctx_for(session="short"))).target is None


async def test_organisations_do_not_see_each_others_pins(shared) -> None:
    client, prefix = shared
    pins = SessionPins(AffinitySettings(), RedisPins(client, prefix, 1000))
    pins.served(await pins.lookup(ctx_for("org-a", session="same")), three_keys("org-a")[1])
    await settle(pins)
    other = SessionPins(AffinitySettings(), RedisPins(client, prefix, 1000))
    assert (await other.lookup(ctx_for("org-b", session="same"))).target is None
    assert (await other.lookup(ctx_for("org-a", session="same"))).target == identity(three_keys("org-a")[1])


async def test_a_redis_that_does_not_answer_leaves_the_process_its_own_pins() -> None:
    down = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    store = RedisPins(down, "sy-down:", 300)
    with pytest.raises(StoreUnavailable):
        await store.get("org-1", "k")
    pins = SessionPins(AffinitySettings(), store)
    attempts = three_keys()
    pins.served(await pins.lookup(ctx_for(session="offline")), attempts[1])
    await settle(pins)  # the failed write is swallowed (logged), never raised into a request
    assert (await pins.lookup(ctx_for(session="offline"))).target == identity(attempts[1])
    await down.aclose()
