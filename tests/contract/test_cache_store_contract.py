"""The response-cache backend contract, run against the in-process LRU and Redis alike, plus what only one
of them promises (LRU bounds for memory; prefix, PX TTL and failure handling for Redis)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from support.gateway import free_port
from support.services import fresh_prefix, require_redis
from switchyard.config import RedisSettings
from switchyard.pipeline.caching import CacheEntry, CacheRequest, ResponseCache, slot_keys
from switchyard.stores.base import StoreUnavailable
from switchyard.stores.cache_memory import MemoryCache
from switchyard.stores.cache_redis import RedisCache
from switchyard.stores.redis_client import connect

HOUR_MS = 3_600_000


class CountingMetrics:
    def __init__(self) -> None:
        self.cache_results: list[str] = []
        self.redis_errors: list[str] = []

    def cache(self, result: str) -> None:
        self.cache_results.append(result)

    def redis_error(self, op: str) -> None:
        self.redis_errors.append(op)


@pytest.fixture(
    params=[pytest.param("memory", id="memory"), pytest.param("redis", id="redis", marks=pytest.mark.redis)]
)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        b = MemoryCache(max_entries=1000, max_bytes=10 * 1024 * 1024)
        yield b
        await b.close()
        return
    url = require_redis()
    prefix = fresh_prefix("sycache")
    client = connect(RedisSettings(url=url, timeout_ms=2000))
    b = RedisCache(client, prefix, 2000, owns_client=False)
    b.prefix = prefix  # type: ignore[attr-defined]  # for the Redis-only assertions
    b.client = client  # type: ignore[attr-defined]
    yield b
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def entry(text: str = "hello", **meta: Any) -> CacheEntry:
    return CacheEntry(
        body=b'{"answer":"' + text.encode() + b'"}',
        content_type="application/json",
        provider="openai",
        model="gpt-4o-mini",
        usage={"prompt_tokens": 3},
        cost_usd=0.001,
        created_at=1,
        **meta,
    )


# -- the contract ---------------------------------------------------------------------------------------


async def test_get_many_returns_values_in_key_order_and_none_for_missing(backend):
    await backend.set("a", b"one", HOUR_MS)
    await backend.set("c", b"\x00three\n\xff", HOUR_MS)  # arbitrary bytes survive
    assert await backend.get_many(["a", "b", "c"]) == [b"one", None, b"\x00three\n\xff"]
    assert await backend.get_many([]) == []


async def test_set_overwrites(backend):
    await backend.set("k", b"old", HOUR_MS)
    await backend.set("k", b"new", HOUR_MS)
    assert await backend.get_many(["k"]) == [b"new"]


async def test_entries_expire_after_their_ttl(backend):
    await backend.set("short", b"x", 150)
    await backend.set("long", b"y", HOUR_MS)
    assert await backend.get_many(["short", "long"]) == [b"x", b"y"]
    await asyncio.sleep(0.4)
    assert await backend.get_many(["short", "long"]) == [None, b"y"]


async def test_bucket_fills_before_hits_then_a_random_filled_slot_is_served(backend):
    cache = ResponseCache(backend, max_entry_bytes=1024 * 1024, rng=random.Random(7))
    req = CacheRequest(read=True, save=True, bucket_size=3)
    metrics = CountingMetrics()
    for i in range(3):
        assert await cache.lookup(req, "bucket", metrics) is None, "no hit until every slot is filled"
        assert await cache.save(req, "bucket", entry(f"answer-{i}"), metrics)
    assert metrics.cache_results == ["miss", "store"] * 3
    served: dict[int, bytes] = {}
    for _ in range(60):
        hit = await cache.lookup(req, "bucket", metrics)
        assert hit is not None
        served[hit.index] = hit.entry.body
    assert served == {i: entry(f"answer-{i}").body for i in range(3)}, (
        "each slot holds its own answer, all served"
    )
    assert not await cache.save(req, "bucket", entry("extra")), "a full bucket takes no more entries"


async def test_a_hit_carries_the_stored_metadata(backend):
    cache = ResponseCache(backend, max_entry_bytes=1024 * 1024)
    req = CacheRequest(read=True, save=True)
    stored = entry("meta")
    assert await cache.save(req, "meta-key", stored)
    hit = await cache.lookup(req, "meta-key")
    assert hit is not None and hit.index == 0 and hit.entry == stored


async def test_save_uses_the_requests_ttl(backend):
    cache = ResponseCache(backend, max_entry_bytes=1024 * 1024)
    req = CacheRequest(read=True, save=True, ttl_s=1)
    assert await cache.save(req, "ttl-key", entry())
    assert await cache.lookup(req, "ttl-key") is not None
    await asyncio.sleep(1.3)
    assert await cache.lookup(req, "ttl-key") is None


async def test_directions_and_the_entry_size_limit(backend):
    cache = ResponseCache(backend, max_entry_bytes=200)
    write_only = CacheRequest(read=False, save=True)
    read_only = CacheRequest(read=True, save=False)
    assert not await cache.save(read_only, "dir", entry())
    assert await cache.lookup(read_only, "dir") is None
    assert await cache.save(write_only, "dir", entry())
    assert await cache.lookup(write_only, "dir") is None, "reading is off"
    assert await cache.lookup(read_only, "dir") is not None
    assert not await cache.save(write_only, "big", entry("x" * 300)), (
        "entries above max_entry_bytes are not stored"
    )
    assert await backend.get_many(slot_keys("big", 1)) == [None]


async def test_unreadable_stored_value_is_a_miss(backend):
    cache = ResponseCache(backend, max_entry_bytes=1024)
    await backend.set("junk:0", b"garbage without metadata", HOUR_MS)
    assert await cache.lookup(CacheRequest(read=True, save=True), "junk") is None


# -- memory only: LRU bounds ----------------------------------------------------------------------------


async def test_memory_lru_evicts_the_least_recently_used_by_count():
    m = MemoryCache(max_entries=3, max_bytes=1024 * 1024)
    for k in "abc":
        await m.set(k, k.encode(), HOUR_MS)
    await m.get_many(["a"])  # a is now the most recently used
    await m.set("d", b"d", HOUR_MS)
    assert await m.get_many(["a", "b", "c", "d"]) == [b"a", None, b"c", b"d"]
    assert len(m) == 3


async def test_memory_lru_evicts_by_bytes():
    m = MemoryCache(max_entries=100, max_bytes=1024)
    await m.set("a", b"a" * 400, HOUR_MS)
    await m.set("b", b"b" * 400, HOUR_MS)
    await m.set("c", b"c" * 400, HOUR_MS)  # 1200 > 1024: the oldest goes
    assert await m.get_many(["a", "b", "c"]) == [None, b"b" * 400, b"c" * 400]
    assert m.nbytes == 800
    await m.set("b", b"B" * 100, HOUR_MS)  # replacing an entry releases its old size
    assert m.nbytes == 500
    await m.set("huge", b"h" * 2000, HOUR_MS)  # larger than the whole cache: not stored, nothing evicted
    assert await m.get_many(["huge", "b", "c"]) == [None, b"B" * 100, b"c" * 400]


async def test_memory_expiry_uses_the_clock_and_frees_bytes():
    now = [1000.0]
    m = MemoryCache(max_entries=10, max_bytes=1024, clock=lambda: now[0])
    await m.set("k", b"v" * 10, 5_000)
    now[0] += 4.9
    assert await m.get_many(["k"]) == [b"v" * 10]
    now[0] += 0.2
    assert await m.get_many(["k"]) == [None]
    assert (len(m), m.nbytes) == (0, 0)


# -- Redis only -----------------------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_keys_live_under_the_prefix_with_a_px_ttl():
    url = require_redis()
    prefix = fresh_prefix("sycache")
    client = connect(RedisSettings(url=url))
    try:
        backend = RedisCache(client, prefix, 1000, owns_client=False)
        await backend.set("slot:0", b"v", 60_000)
        assert await client.get(prefix + "cache:slot:0") == b"v"
        assert 55_000 < await client.pttl(prefix + "cache:slot:0") <= 60_000
        assert await client.get("cache:slot:0") is None
    finally:
        await client.delete(prefix + "cache:slot:0")
        await client.aclose()


async def test_unreachable_redis_is_a_miss_and_a_skipped_save_never_an_exception():
    port = free_port()  # bound then released: nothing listens there
    client = connect(RedisSettings(url=f"redis://127.0.0.1:{port}/0", timeout_ms=200))
    backend = RedisCache(client, "sy-unreachable:", 200)
    cache = ResponseCache(backend, max_entry_bytes=1024 * 1024)
    metrics = CountingMetrics()
    req = CacheRequest(read=True, save=True, bucket_size=2)
    t0 = time.perf_counter()
    with pytest.raises(StoreUnavailable):
        await backend.get_many(["k"])
    assert await cache.lookup(req, "k", metrics) is None
    assert await cache.save(req, "k", entry(), metrics) is False
    assert time.perf_counter() - t0 < 3, "a dead Redis must fail fast"
    assert metrics.redis_errors == ["cache_get", "cache_get"]
    assert metrics.cache_results == ["error", "error"]
    await cache.close()


async def test_hung_redis_times_out_as_a_miss():
    """A server that accepts but never answers: the configured timeout bounds the wait."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(4096):  # swallow commands, answer nothing, until the client hangs up
            pass
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = connect(RedisSettings(url=f"redis://127.0.0.1:{port}/0", timeout_ms=150))
        cache = ResponseCache(RedisCache(client, "sy-hung:", 150), max_entry_bytes=1024)
        t0 = time.perf_counter()
        assert await cache.lookup(CacheRequest(read=True, save=True), "k") is None
        assert time.perf_counter() - t0 < 2
        await cache.close()
    finally:
        server.close()
