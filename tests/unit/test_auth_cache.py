"""pipeline/auth.py's key cache against a counting fake store: what unknown keys cost (shape check, a bounded
negative cache of its own), single-flight lookups, a cap on concurrent lookups, eviction that keeps keys in use,
and lookups that straddle an invalidation."""

from __future__ import annotations

import asyncio

import pytest

from switchyard.errors import GatewayError
from switchyard.pipeline.auth import Authenticator
from switchyard.security import Secrets, new_gateway_key
from switchyard.stores.base import GatewayKey, Org

SECRETS = Secrets(b"unit-test-master-key-0123456789abcdef")
ORG = Org("org-1", "org", 0)


class CountingStore:
    """find_key_by_hash / get_org with counters; `gate` (when set) holds every lookup until released."""

    def __init__(self) -> None:
        self.keys: dict[str, GatewayKey] = {}
        self.queries = 0
        self.in_flight = 0
        self.peak = 0
        self.gate: asyncio.Event | None = None

    def add(self, key: str, *, revoked: bool = False) -> GatewayKey:
        rec = GatewayKey(f"id-{len(self.keys)}", ORG.id, None, key[:10], 0, 1 if revoked else None)
        self.keys[SECRETS.hash_key(key)] = rec
        return rec

    async def find_key_by_hash(self, digest: str) -> GatewayKey | None:
        self.queries += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            # read first: a gated lookup answers what the store held when it asked
            found = self.keys.get(digest)
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
            return found
        finally:
            self.in_flight -= 1

    async def get_org(self, org_id: str) -> Org | None:
        return ORG if org_id == ORG.id else None

    async def keys_revision(self) -> tuple[int]:
        return (0,)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def refused(auth: Authenticator, key: str) -> None:
    with pytest.raises(GatewayError) as info:
        await auth.authenticate(bearer(key))
    assert info.value.status == 401 and info.value.code == "invalid_api_key"


async def test_a_string_that_is_no_gateway_key_costs_no_query() -> None:
    store = CountingStore()
    auth = Authenticator(store, SECRETS)
    for junk in [
        "sk-proj-abc",
        "x" * 46,
        "sk-sy-short",
        "sk-sy-" + "a" * 39 + "!",
        "sk-sy-" + "é" * 40,
        "Bearer sk-sy-",
    ]:
        await refused(auth, junk)
    assert store.queries == 0


async def test_unknown_keys_are_remembered_in_a_bounded_table_of_their_own() -> None:
    store = CountingStore()
    good = new_gateway_key()
    store.add(good)
    auth = Authenticator(store, SECRETS, max_keys=10, max_unknown=100)
    assert (await auth.authenticate(bearer(good))).key.org_id == ORG.id
    unknown = [new_gateway_key() for _ in range(1000)]
    for k in unknown:
        await refused(auth, k)
    assert store.queries == 1 + 1000
    assert len(auth._unknown) == 100  # bounded
    await refused(auth, unknown[-1])  # the newest unknown key: answered from memory
    assert store.queries == 1001
    await auth.authenticate(bearer(good))  # the flood of unknown keys did not push the valid key out
    assert store.queries == 1001


async def test_revoked_key_is_refused_and_remembered_as_unknown() -> None:
    store = CountingStore()
    k = new_gateway_key()
    store.add(k, revoked=True)
    auth = Authenticator(store, SECRETS)
    await refused(auth, k)
    await refused(auth, k)
    assert store.queries == 1


async def test_concurrent_requests_with_one_uncached_key_share_one_lookup() -> None:
    store = CountingStore()
    store.gate = asyncio.Event()
    good, bad = new_gateway_key(), new_gateway_key()
    store.add(good)
    auth = Authenticator(store, SECRETS)
    goods = [asyncio.ensure_future(auth.authenticate(bearer(good))) for _ in range(50)]
    bads = [asyncio.ensure_future(auth.authenticate(bearer(bad))) for _ in range(50)]
    await asyncio.sleep(0.01)
    assert store.queries == 2  # one per key, however many requests wait
    store.gate.set()
    assert all(p.key.org_id == ORG.id for p in await asyncio.gather(*goods))
    results = await asyncio.gather(*bads, return_exceptions=True)
    assert all(isinstance(r, GatewayError) and r.status == 401 for r in results)
    assert store.queries == 2


async def test_a_caller_that_leaves_does_not_cancel_the_lookup_others_wait_for() -> None:
    store = CountingStore()
    store.gate = asyncio.Event()
    good = new_gateway_key()
    store.add(good)
    auth = Authenticator(store, SECRETS)
    first = asyncio.ensure_future(auth.authenticate(bearer(good)))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(auth.authenticate(bearer(good)))
    await asyncio.sleep(0.01)
    first.cancel()
    store.gate.set()
    assert (await second).key.org_id == ORG.id
    assert store.queries == 1


async def test_lookups_of_distinct_keys_are_capped() -> None:
    store = CountingStore()
    store.gate = asyncio.Event()
    auth = Authenticator(store, SECRETS, max_lookups=4)
    tasks = [asyncio.ensure_future(auth.authenticate(bearer(new_gateway_key()))) for _ in range(40)]
    await asyncio.sleep(0.01)
    assert store.in_flight == 4  # the rest queue in the gateway, not in the database pool
    store.gate.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert store.peak == 4 and store.queries == 40


async def test_a_full_cache_evicts_the_coldest_key_and_keeps_the_hot_one() -> None:
    store = CountingStore()
    keys = [new_gateway_key() for _ in range(30)]
    for k in keys:
        store.add(k)
    auth = Authenticator(store, SECRETS, max_keys=10)
    hot = keys[0]
    await auth.authenticate(bearer(hot))
    for k in keys[1:]:  # 29 other keys pass through a cache of 10; the hot key is used in between
        await auth.authenticate(bearer(k))
        await auth.authenticate(bearer(hot))
    assert store.queries == 30  # the hot key was looked up once; each other key once
    assert len(auth._known) == 10
    await auth.authenticate(bearer(keys[-1]))  # a recent key is still cached
    assert store.queries == 30
    await auth.authenticate(bearer(keys[1]))  # the coldest went
    assert store.queries == 31


async def test_a_lookup_that_straddles_an_invalidation_is_answered_but_not_cached() -> None:
    """It may have read the key just before a revocation committed; the poll's invalidation must win."""
    store = CountingStore()
    store.gate = asyncio.Event()
    k = new_gateway_key()
    store.add(k)
    auth = Authenticator(store, SECRETS)
    pending = asyncio.ensure_future(auth.authenticate(bearer(k)))
    await asyncio.sleep(0.01)
    store.keys.clear()  # revoked (deleted) in the store ...
    auth.invalidate()  # ... and the revision poll noticed, while the lookup was still out
    store.gate.set()
    await pending  # the old answer goes to the request that asked before the change
    await refused(auth, k)  # but it was not cached: the next request asks the store again
    assert store.queries == 2
