"""One contract for both limiter backends (in process and Redis): exact admission under concurrency, exact
sliding windows (injected clock), all-or-nothing across rules, budgets with reservations, release, tokens.
Then the `Limits` facade on a Redis that is down, hung, or comes back."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from support.gateway import free_port
from support.services import REDIS_URL, fresh_prefix, require_redis
from support.tcp_proxy import TcpProxy
from switchyard.config import RedisSettings, Settings
from switchyard.errors import GatewayError
from switchyard.ids import new_request_id
from switchyard.observe.cost import Usage, worst_case_usd
from switchyard.pipeline.auth import Principal
from switchyard.pipeline.context import RequestContext
from switchyard.pipeline.headers import parse_helicone
from switchyard.pipeline.limit_rules import resolve_rules
from switchyard.pipeline.limits import Limits
from switchyard.providers.registry import load_registry
from switchyard.stores.base import GatewayKey, LimitRule, Org
from switchyard.stores.limiter_memory import MemoryLimiter
from switchyard.stores.limiter_redis import RedisLimiter
from switchyard.stores.limiter_types import Charge
from switchyard.stores.redis_client import connect

T0 = 1_700_000_000_000  # an injected "now" (ms); Redis otherwise uses its own clock
MIN = 60_000


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Any]]:
    """A factory of fresh limiters of one backend (each Redis one under its own key prefix)."""
    clients: list[Any] = []

    def factory(reservation_ttl_ms: int = 3_600_000, max_segment_counters: int = 10_000) -> Any:
        if request.param == "memory":
            return MemoryLimiter(reservation_ttl_ms, max_segment_counters)
        require_redis()
        client, prefix = connect(RedisSettings(url=REDIS_URL, timeout_ms=5000)), fresh_prefix("sylim")
        clients.append((client, prefix))
        limiter = RedisLimiter(client, prefix, reservation_ttl_ms, max_segment_counters=max_segment_counters)
        return limiter

    yield factory
    for client, prefix in clients:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def req(counter: str = "r60:k:a", limit: int = 10, window_ms: int = MIN) -> Charge:
    return Charge(counter, "requests", limit, window_ms, 1)


def usd(amount: int, limit: int = 1000, counter: str = "u3600:k:a", window_ms: int = 3_600_000) -> Charge:
    return Charge(counter, "usd", limit, window_ms, amount)


def tok(amount: int = 0, limit: int = 100, counter: str = "t60:k:a") -> Charge:
    return Charge(counter, "tokens", limit, MIN, amount)


async def test_exactly_quota_of_200_concurrent_acquisitions(make):
    lim = make()
    results = await asyncio.gather(*(lim.acquire(new_request_id(), [req(limit=10)]) for _ in range(200)))
    assert sum(d.admitted for d in results) == 10
    refused = [d for d in results if not d.admitted]
    assert all(d.used == [10] and 0 < d.retry_after_ms <= MIN + MIN // 1000 for d in refused)
    assert sorted(d.used[0] for d in results if d.admitted) == list(range(1, 11))


async def test_sliding_window_has_no_boundary_doubling(make):
    lim = make()
    c = [req(limit=3)]
    for t in (0, 10_000, 20_000):
        assert (await lim.acquire("x", c, T0 + t)).admitted
    refused = await lim.acquire("x", c, T0 + 30_000)
    assert not refused.admitted
    # the first request ages out 60 s after it was counted (plus at most one grain of 60 ms, never less)
    assert 30_000 <= refused.retry_after_ms <= 30_060
    assert not (await lim.acquire("x", c, T0 + 59_999)).admitted
    assert (await lim.acquire("x", c, T0 + 60_060)).admitted  # one slot freed: exactly one more
    assert not (await lim.acquire("x", c, T0 + 60_100)).admitted


async def test_a_burst_at_a_window_edge_does_not_double_the_limit(make):
    lim = make()
    c = [req(limit=5)]
    admitted = [(await lim.acquire("x", c, T0 + 59_000 + i)).admitted for i in range(5)]
    # a fixed one-minute window would reset at T0 + 60 000 and admit five more here
    later = [(await lim.acquire("x", c, T0 + 61_000 + i)).admitted for i in range(5)]
    assert admitted == [True] * 5 and later == [False] * 5
    assert (await lim.acquire("x", c, T0 + 119_100)).admitted


async def test_reset_reports_when_the_oldest_entry_ages_out(make):
    lim = make()
    d = await lim.acquire("x", [req(limit=3)], T0)
    assert MIN <= d.reset_ms[0] <= MIN + 60
    d = await lim.acquire("x", [req(limit=3)], T0 + 15_000)
    assert MIN - 15_000 <= d.reset_ms[0] <= MIN - 15_000 + 60


async def test_all_or_nothing_across_rules(make):
    lim = make()
    wide, narrow = req("r60:k:wide", limit=5), req("r60:k:narrow", limit=2)
    assert (await lim.acquire("a", [wide, narrow], T0)).admitted
    assert (await lim.acquire("b", [wide, narrow], T0)).admitted
    refused = await lim.acquire("c", [wide, narrow], T0)
    assert not refused.admitted and refused.blocked == 1 and refused.used == [2, 2]
    # the refused request recorded nothing on the rule it did satisfy: `wide` still has exactly 3 slots
    alone = [(await lim.acquire("d", [wide], T0)).admitted for _ in range(4)]
    assert alone == [True, True, True, False]


async def test_the_longest_wait_is_reported(make):
    lim = make()
    short, long = req("r10:k:s", limit=1, window_ms=10_000), req("r60:k:l", limit=1)
    assert (await lim.acquire("a", [short, long], T0)).admitted
    refused = await lim.acquire("b", [short, long], T0 + 1000)
    assert refused.blocked == 1 and 59_000 <= refused.retry_after_ms <= 59_060


async def test_budget_with_reservations_is_never_exceeded_by_more_than_one_real_cost(make):
    lim = make()
    limit, worst = 10_000, 400
    spent: list[int] = []
    rng = random.Random(7)

    async def caller() -> None:
        for _ in range(5):
            rid = new_request_id()
            d = await lim.acquire(rid, [usd(worst, limit)])
            if not d.admitted:
                await asyncio.sleep(0.001)
                continue
            await asyncio.sleep(rng.random() * 0.004)
            real = rng.randint(1, worst)  # the real cost never exceeds the reservation
            spent.append(real)
            await lim.settle(rid, [usd(real, limit)])

    await asyncio.gather(*(caller() for _ in range(200)))
    total = sum(spent)
    assert limit - worst <= total < limit + worst  # budget used up, overshoot below one real cost
    final = await lim.acquire("probe", [usd(worst, limit)])
    # the backend holds exactly the real costs: every reservation was replaced, none leaked
    assert final.admitted == (total < limit)
    assert final.used == [total + (worst if final.admitted else 0)]


async def test_a_budget_admits_while_settled_plus_reserved_is_below_the_limit(make):
    lim = make()
    first = await lim.acquire("a", [usd(600)], T0)
    second = await lim.acquire("b", [usd(600)], T0)
    assert first.admitted and second.admitted and second.used == [1200]
    third = await lim.acquire("c", [usd(1)], T0)
    assert not third.admitted and third.retry_after_ms == 1000  # only reservations in the way: a short hint
    await lim.settle("a", [usd(10)], T0 + 1)  # real cost 10: the reservation of 600 is replaced
    assert (await lim.acquire("c", [usd(1)], T0 + 2)).used == [611]


async def test_release_frees_the_reservation(make):
    lim = make()
    assert (await lim.acquire("a", [usd(999)], T0)).admitted
    assert (await lim.acquire("b", [usd(5)], T0)).admitted
    assert not (await lim.acquire("c", [usd(5)], T0)).admitted
    await lim.release("a", [usd(999)], T0)
    await lim.release("b", [usd(5)], T0)
    d = await lim.acquire("d", [usd(5)], T0)
    assert d.admitted and d.used == [5]
    await lim.release("never-admitted", [usd(5)], T0)  # unknown reservations are ignored
    assert (await lim.acquire("e", [usd(5)], T0)).used == [10]


async def test_settled_costs_age_out_of_the_budget_window(make):
    lim = make()
    c = usd(100, limit=1000, counter="u60:k:a", window_ms=MIN)
    assert (await lim.acquire("a", [c], T0)).admitted
    await lim.settle("a", [Charge(c.counter, "usd", 1000, MIN, 1000)], T0 + 1000)
    refused = await lim.acquire("b", [c], T0 + 2000)
    assert not refused.admitted and 59_000 <= refused.retry_after_ms <= 59_060
    assert (await lim.acquire("b", [c], T0 + 61_100)).admitted


async def test_a_lost_reservation_lapses(make):
    lim = make(reservation_ttl_ms=5000)
    assert (await lim.acquire("crashed", [usd(1000)], T0)).admitted
    assert not (await lim.acquire("b", [usd(1)], T0 + 4999)).admitted
    d = await lim.acquire("b", [usd(1)], T0 + 5000)
    assert d.admitted and d.used == [1]


async def test_tokens_are_checked_before_and_counted_after(make):
    lim = make()
    d = await lim.acquire("a", [tok(limit=100)], T0)
    assert d.admitted and d.used == [0]  # nothing is counted at admission
    assert (await lim.acquire("b", [tok(limit=100)], T0)).admitted
    await lim.settle("a", [tok(70, limit=100)], T0 + 10)
    await lim.settle(
        "b", [tok(70, limit=100)], T0 + 1000
    )  # overshoots by one request's tokens, as documented
    refused = await lim.acquire("c", [tok(limit=100)], T0 + 1030)
    assert not refused.admitted and refused.used == [140]
    assert 58_980 <= refused.retry_after_ms <= 59_040  # when the first 70 age out, 70 < 100
    assert (await lim.acquire("c", [tok(limit=100)], T0 + 60_100)).used == [70]


async def test_backends_agree_on_a_mixed_sequence(make):
    """A deterministic mixed workload gives identical decisions on this backend and the reference one."""
    lim, ref = make(), MemoryLimiter()
    rng = random.Random(11)
    charges = [req("r30:k:a", 4, 30_000), usd(0, 5000), tok(limit=300)]
    for step in range(300):
        now = T0 + step * 700
        rid = f"r{step}"
        worst = rng.randint(0, 900)
        cs = [charges[0], usd(worst, 5000), charges[2]]
        got, want = await lim.acquire(rid, cs, now), ref.acquire_now(rid, cs, now)
        assert (got.admitted, got.used, got.reset_ms, got.blocked, got.retry_after_ms) == (
            want.admitted,
            want.used,
            want.reset_ms,
            want.blocked,
            want.retry_after_ms,
        ), step
        if got.admitted:
            settle = [usd(rng.randint(0, worst), 5000), tok(rng.randint(0, 120), 300)]
            await lim.settle(rid, settle, now + 300)
            ref.settle_now(rid, settle, now + 300)


async def test_idle_counters_vanish(make):
    lim = make()
    await lim.acquire("a", [req("r1:k:idle", 5, 1000), usd(10, counter="u1:k:idle", window_ms=1000)])
    await lim.settle("a", [usd(3, counter="u1:k:idle", window_ms=1000)])
    if isinstance(lim, MemoryLimiter):
        for _ in range(256):  # operations drive the incremental sweep; sweep with a clock past the window
            lim.acquire_now("b", [req("r60:k:busy", 10**6)], time.monotonic_ns() // 1_000_000 + 2000)
        assert len(lim) == 1
        return
    keys = [k async for k in lim._redis.scan_iter(match=lim._prefix + "*")]
    assert keys  # written with a TTL covering one window (plus a grain), so they are gone after it
    for k in keys:
        assert 0 < await lim._redis.pttl(k) <= 1001
    await asyncio.sleep(1.1)
    assert [k async for k in lim._redis.scan_iter(match=lim._prefix + "*")] == []


# -- bounded memory: segment counters capped per group, live counters counted ----------------------------------------


def user(i: int, key: str = "k1", limit: int = 2) -> Charge:
    return Charge(f"r60:h:{key}:u:user{i}", "requests", limit, MIN, 1, f"h:{key}")


async def test_segment_counters_are_capped_per_group_least_recently_used_out(make):
    lim = make(max_segment_counters=16)
    key_total = Charge("r60:h:k1", "requests", 10**6, MIN, 1)  # the key's own counter: never in a group
    assert (await lim.acquire("o", [user(0, "k2")], T0)).admitted  # another key's user, before the churn
    for i in range(40):  # one new user id per request on key k1
        d = await lim.acquire(f"r{i}", [key_total, user(i)], T0 + i)
        assert d.admitted and d.used == [i + 1, 1]
    assert lim.evicted == 40 - 16
    # the 16 most recent users keep their counts; user 39 has one request left, then is refused
    assert (await lim.acquire("a", [user(39)], T0 + 100)).used == [2]
    assert not (await lim.acquire("b", [user(39)], T0 + 101)).admitted
    # an evicted user starts a fresh window (its own choice of id could always do that)
    assert (await lim.acquire("c", [user(0)], T0 + 102)).used == [1]
    # the key's own counter and other keys' users are untouched by the churn
    assert (await lim.acquire("d", [key_total], T0 + 103)).used == [41]
    assert (await lim.acquire("e", [user(0, "k2")], T0 + 104)).used == [2]
    if isinstance(lim, MemoryLimiter):
        assert len(lim) == 16 + 2
    else:
        keys = [k async for k in lim._redis.scan_iter(match=lim._prefix + "r60:h:k1:u:*:m")]
        assert len(keys) == 16
        assert lim.live == 16 + 2


async def test_a_settlement_keeps_its_counter_in_use(make):
    """Budgets per user: a settlement counts as a use, and one arriving after its counter was evicted logs the real
    cost on a fresh counter instead of failing."""
    lim = make(max_segment_counters=16)

    def spend(i: int, amount: int) -> Charge:
        return Charge(f"u3600:h:k1:u:user{i}", "usd", 1000, 3_600_000, amount, "h:k1")

    assert (await lim.acquire("held", [spend(0, 500)], T0)).admitted
    for i in range(1, 40):
        assert (await lim.acquire(f"r{i}", [spend(i, 10)], T0 + i)).admitted
    await lim.settle("held", [spend(0, 300)], T0 + 50)  # user 0 was evicted in flight: its cost lands fresh
    assert (await lim.acquire("x", [spend(0, 0)], T0 + 60)).used == [300]


async def test_live_counters_are_counted(make):
    lim = make()
    for i in range(5):
        await lim.acquire(f"r{i}", [req(f"r60:k:live{i}")])
    live = len(lim) if isinstance(lim, MemoryLimiter) else lim.live
    assert live == 5


def test_100k_distinct_users_keep_the_in_process_limiter_bounded():
    """The finding: `1000;w=31622400;s=user` with a new Helicone-User-Id per request kept 100k counters for a year
    (114 MiB). Now such a window is a 400 (31 days at most) and a key keeps at most `max_segment_counters`
    (10,000 by default) user counters: after 100k users there are 10,000 (~1.2 KiB each, ~12 MiB)."""
    from switchyard.pipeline.ratelimit_policy import parse_policy

    with pytest.raises(GatewayError):
        Limits(MemoryLimiter())._policy("1000;w=31622400;s=user")
    policy = parse_policy("1000;w=2678400;s=user")
    ctx = _ctx({})
    lim = MemoryLimiter()
    for i in range(100_000):
        ctx.helicone.user_id = f"user-{i}"
        rule = resolve_rules(ctx.principal, ctx.helicone, policy)[0]
        assert lim.acquire_now("", [rule.charge]).admitted
    assert len(lim) == 10_000 and lim.evicted == 90_000


def test_memory_stops_growing_at_the_cap():
    """Traced from the start (tracemalloc only sees what it traced): with a cap of 1,000, memory after 3,000
    distinct users and after 12,000 more is the same, where each new counter used to add ~1.2 KiB."""
    import tracemalloc

    lim = MemoryLimiter(max_segment_counters=1000)
    window = 2_678_400_000

    def users(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            lim.acquire_now("", [Charge(f"r2678400:h:k:u:user-{i}", "requests", 1000, window, 1, "h:k")])

    tracemalloc.start()
    try:
        users(0, 3000)
        plateau = tracemalloc.get_traced_memory()[0]
        users(3000, 15_000)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert plateau > 1000 * 500  # the 1,000 live counters themselves
    assert after - plateau < 64 * 1024, f"grew {(after - plateau) / 1024:.0f} KiB"
    assert len(lim) == 1000


# -- the facade on an unhealthy Redis ------------------------------------------------------------------------------


class FakeMetrics:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.up: list[bool] = []
        self.limited: list[str] = []

    def redis_error(self, op: str) -> None:
        self.errors.append(op)

    def set_redis_up(self, up: bool) -> None:
        self.up.append(up)

    def limit(self, metric: str, scope: str, decision: str) -> None:
        if decision == "rejected":
            self.limited.append(scope)


_REGISTRY: Any = None


def _endpoint(model: str, provider: str) -> Any:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry(Settings.model_validate({"home": "/tmp/switchyard-test-limits"}), env={})
    return _REGISTRY.models[model].endpoints[provider]


def _ctx(headers: dict[str, str], key_limits=(), org_limits=()) -> RequestContext:
    h = {k.lower(): v for k, v in headers.items()}
    ctx = RequestContext(path="/v1/chat/completions", helicone=parse_helicone(h), forward_headers=h)
    key = GatewayKey("k-" + new_request_id(), "org1", None, "sy-", 0, None, limits=tuple(key_limits))
    ctx.principal = Principal(key, Org("org1", "acme", 0, limits=tuple(org_limits)))
    return ctx


def _limits(url: str, on_failure: str, timeout_ms: int = 200) -> tuple[Limits, FakeMetrics]:
    settings = RedisSettings(
        url=url, on_failure=on_failure, timeout_ms=timeout_ms, key_prefix=fresh_prefix("sylim")
    )
    lim = Limits(
        RedisLimiter(connect(settings), settings.key_prefix),
        fallback=MemoryLimiter(),
        on_failure=on_failure,
        timeout_ms=timeout_ms,
    )
    lim.metrics = FakeMetrics()
    return lim, lim.metrics


async def _admit_n(lim: Limits, ctx: RequestContext, n: int) -> list[Any]:
    """n admissions of one request shape, each settled at once: admissions or the errors raised."""
    out = []
    for _ in range(n):
        try:
            adm = await lim.admit(ctx, [])
        except GatewayError as e:
            out.append(e)
            continue
        out.append(adm)
        lim.finish(adm, ctx)
    return out


async def test_redis_down_fail_open_limits_in_process():
    lim, metrics = _limits(f"redis://127.0.0.1:{free_port()}/0", "open")
    ctx = _ctx({"Helicone-RateLimit-Policy": "3;w=60"})
    got = await _admit_n(lim, ctx, 5)
    assert [isinstance(x, GatewayError) for x in got] == [False, False, False, True, True]
    assert got[3].status == 429 and got[3].code == "rate_limited"
    assert metrics.errors[:1] == ["acquire"] and metrics.up == [False]
    assert metrics.limited == ["policy", "policy"]
    await lim.close()


async def test_redis_down_fail_closed_answers_503_but_unlimited_requests_pass():
    lim, metrics = _limits(f"redis://127.0.0.1:{free_port()}/0", "closed")
    with pytest.raises(GatewayError) as e:
        await lim.admit(_ctx({"Helicone-RateLimit-Policy": "3;w=60"}), [])
    assert e.value.status == 503 and e.value.code == "limits_unavailable"
    adm = await lim.admit(_ctx({}), [])  # no rule: Redis is not needed
    assert adm.headers == []
    assert metrics.errors == ["acquire"]
    await lim.close()


async def test_a_hung_redis_costs_at_most_the_timeout():
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)  # accept and never answer

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lim, metrics = _limits(f"redis://127.0.0.1:{port}/0", "closed", timeout_ms=150)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(GatewayError) as e:
        await lim.admit(_ctx({"Helicone-RateLimit-Policy": "3;w=60"}), [])
    assert e.value.status == 503 and loop.time() - started < 0.5
    started = loop.time()
    with pytest.raises(GatewayError):  # within the next second Redis is not even tried
        await lim.admit(_ctx({"Helicone-RateLimit-Policy": "3;w=60"}), [])
    assert loop.time() - started < 0.05
    assert metrics.errors == ["acquire"] and metrics.up == [False]
    server.close()
    await lim.close()


@pytest.mark.redis
async def test_limits_recover_when_redis_comes_back():
    require_redis()
    proxy = TcpProxy("127.0.0.1", 6379, free_port()).start()
    lim, metrics = _limits(f"redis://127.0.0.1:{proxy.port}/0", "closed")
    headers = {"Helicone-RateLimit-Policy": "2;w=60", "Helicone-User-Id": "u"}
    ctx = _ctx(headers)
    assert not isinstance((await _admit_n(lim, ctx, 1))[0], GatewayError)
    proxy.cut()
    assert (await _admit_n(lim, ctx, 1))[0].status == 503
    proxy.restore()
    await asyncio.sleep(1.1)
    got = await _admit_n(lim, ctx, 2)
    assert not isinstance(got[0], GatewayError)  # Redis again, and the count from before the outage holds
    assert isinstance(got[1], GatewayError) and got[1].status == 429
    assert metrics.up == [False, True]
    await lim.close()
    proxy.close()


@pytest.mark.redis
async def test_settlements_run_in_the_background_and_close_waits_for_them():
    require_redis()
    lim, _ = _limits(REDIS_URL, "closed", timeout_ms=2000)
    rules = [LimitRule("usd", 1.0, 3600), LimitRule("tokens", 1000, 3600)]
    ctxs = [_ctx({}, key_limits=rules) for _ in range(20)]
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000}
    attempts = [
        SimpleNamespace(endpoint=_endpoint("gpt-4o-mini", "openai")),
        SimpleNamespace(endpoint=_endpoint("claude-sonnet-4", "anthropic")),
        SimpleNamespace(endpoint=None),
    ]
    for ctx in ctxs:
        ctx.body, ctx.raw_body = body, orjson.dumps(body)
    worst = max(worst_case_usd(a.endpoint, body, len(ctxs[0].raw_body)) or 0 for a in attempts)
    admissions = [await lim.admit(ctx, attempts) for ctx in ctxs]
    raw = connect(RedisSettings(url=REDIS_URL))
    prefix = lim.backend._prefix
    held = await raw.hget(f"{prefix}u3600:k:{ctxs[0].principal.key.id}:m", "r")
    assert int(held) == math.ceil(worst * 1e9) > 0  # the largest worst case among the attempts is held
    for ctx, adm in zip(ctxs, admissions, strict=True):
        ctx.status, ctx.cost_usd, ctx.usage = 200, 0.25, Usage(10, 20, 30)
        lim.finish(adm, ctx)
    assert len(lim._pending) == 20  # scheduled, not awaited on the request path
    await lim.close()
    assert not lim._pending
    for ctx in ctxs:  # every settlement landed: real cost and tokens logged, no reservation left
        key = ctx.principal.key.id
        assert await raw.hmget(f"{prefix}u3600:k:{key}:m", "t", "r") == [b"250000000", b"0"]
        assert await raw.hget(f"{prefix}t3600:k:{key}:m", "t") == b"30"
    await raw.delete(*[k async for k in raw.scan_iter(match=prefix + "*")])
    await raw.aclose()
