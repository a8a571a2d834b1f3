"""Session affinity (pipeline/session_pins.py): the pin table, the request-time order with a pin, and the
executor moving a pin when the pinned attempt fails."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from switchyard.config import AffinitySettings, BreakerSettings
from switchyard.errors import GatewayError
from switchyard.pipeline.auth import Principal
from switchyard.pipeline.context import RequestContext
from switchyard.pipeline.execute import Executor
from switchyard.pipeline.headers import parse_helicone
from switchyard.pipeline.health import Health
from switchyard.pipeline.order import order
from switchyard.pipeline.plan import Attempt, Planner
from switchyard.pipeline.session_pins import (
    DEFAULT_SECONDS,
    PinTable,
    SessionPins,
    identity,
)
from switchyard.providers.base import UpstreamError
from switchyard.stores.base import GatewayKey, Org
from unit.test_plan import planner
from unit.test_routing import key, ring


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def three_keys(org: str = "org-1") -> list[Attempt]:
    p = Planner(planner().registry)
    keys = (key("anthropic", "a"), key("anthropic", "b"), key("anthropic", "c"))
    return p.plan("claude-sonnet-4", ring(*keys, org=org))


def ctx_for(
    org: str = "org-1", session: str | None = "s-1", model: str = "claude-sonnet-4", **headers: str
) -> RequestContext:
    raw = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    if session is not None:
        raw["helicone-session-id"] = session
    ctx = RequestContext(path="/v1/chat/completions", helicone=parse_helicone(raw), forward_headers=raw)
    ctx.principal = Principal(GatewayKey("k-1", org, None, "sk-sy", 0, None), Org(org, org, 0))
    ctx.requested_model = model
    return ctx


# -- the table ---------------------------------------------------------------------------------------


def test_a_pin_expires_at_its_ttl_and_each_use_refreshes_it() -> None:
    clock = Clock()
    t = PinTable(clock=clock)
    t.put("o", "k", "anthropic:ptb|m", 300)
    clock.now += 299
    assert t.get("o", "k") == "anthropic:ptb|m"
    t.put("o", "k", "anthropic:ptb|m", 300)  # served again: the provider refreshed its cache too
    clock.now += 299
    assert t.get("o", "k") == "anthropic:ptb|m"
    clock.now += 1
    assert t.get("o", "k") is None
    assert t.size() == 0  # the expired entry is gone, not just hidden


def test_each_organisation_keeps_at_most_its_cap_least_recently_used_first_out() -> None:
    t = PinTable(max_per_org=3)
    for i in range(3):
        t.put("o", f"k{i}", f"t{i}", 60)
    assert t.get("o", "k0") == "t0"  # k0 used: k1 is now the oldest
    t.put("o", "k3", "t3", 60)
    assert t.size("o") == 3
    assert t.get("o", "k1") is None
    assert [t.get("o", k) for k in ("k0", "k2", "k3")] == ["t0", "t2", "t3"]
    # another organisation's pins neither count against this cap nor get evicted by it
    for i in range(3):
        t.put("other", f"k{i}", "x", 60)
    assert t.size("o") == 3 and t.size("other") == 3


async def test_pins_never_cross_organisations() -> None:
    pins = SessionPins(AffinitySettings())
    a, b = three_keys("org-a"), three_keys("org-b")
    ctx_a = ctx_for("org-a", session="shared-session")
    pin = await pins.lookup(ctx_a)
    assert pin is not None and pin.target is None
    pins.served(pin, a[1])
    # the same session id and model in another organisation finds nothing
    other = await pins.lookup(ctx_for("org-b", session="shared-session"))
    assert other is not None and other.target is None
    assert (await pins.lookup(ctx_for("org-a", session="shared-session"))).target == identity(a[1])
    # and a BYOK pin names its organisation: org B's plan cannot contain org A's pinned endpoint
    assert identity(a[1]) not in {identity(x) for x in b}


async def test_the_pin_is_per_model_string_and_affinity_can_be_switched_off() -> None:
    pins = SessionPins(AffinitySettings())
    attempts = three_keys()
    pin = await pins.lookup(ctx_for())
    pins.served(pin, attempts[2])
    assert (await pins.lookup(ctx_for(model="claude-sonnet-4/anthropic"))).target is None
    assert await pins.lookup(ctx_for(switchyard_session_affinity="off")) is None
    assert await pins.lookup(ctx_for(session=None)) is None  # no session, no pin
    # our own header names a session without Helicone's, and wins over it
    explicit = await pins.lookup(ctx_for(session=None, switchyard_affinity_key="conv-9"))
    assert explicit is not None and explicit.target is None
    assert await SessionPins(AffinitySettings(enabled=False)).lookup(ctx_for()) is None
    # OpenAI's prompt_cache_key names a session too (after both headers)
    keyed = ctx_for(session=None)
    keyed.body = {"model": "claude-sonnet-4", "messages": [], "prompt_cache_key": "tenant-7"}
    pins.served(await pins.lookup(keyed), attempts[1])
    again = ctx_for(session=None)
    again.body = dict(keyed.body)
    assert (await pins.lookup(again)).target == identity(attempts[1])


def test_pin_lifetimes_in_the_config_are_checked() -> None:
    with pytest.raises(ValueError, match="anthropic"):
        AffinitySettings(ttl_seconds={"anthropic": 0})
    with pytest.raises(ValueError, match="7 days"):
        AffinitySettings(ttl_seconds={"openai": 10**9})


def test_ttl_follows_the_provider_cache_lifetime_with_overrides() -> None:
    attempts = three_keys()  # anthropic
    pins = SessionPins(AffinitySettings())
    assert pins.ttl(attempts[0]) == 300
    assert pins.ttl(attempts[0], extended=True) == 3600  # cache_control ttl "1h"
    openai = planner("OPENAI_API_KEY").plan("gpt-4o-mini/openai")[0]
    assert pins.ttl(openai) == 600 and pins.ttl(openai, extended=True) == 86400
    groq = planner("GROQ_API_KEY").plan("llama-3.3-70b-versatile/groq")[0]
    assert pins.ttl(groq) == DEFAULT_SECONDS
    tuned = SessionPins(AffinitySettings(ttl_seconds={"anthropic": 90}))
    assert tuned.ttl(attempts[0]) == 90 and tuned.ttl(attempts[0], extended=True) == 90


async def test_a_body_asking_for_the_long_cache_gets_the_long_pin() -> None:
    clock = Clock()
    pins = SessionPins(AffinitySettings(), clock=clock)
    ctx = ctx_for()
    ctx.raw_body = b'{"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"ephemeral","ttl":"1h"}}]}]}'
    pins.served(await pins.lookup(ctx), three_keys()[0])
    clock.now += 1800
    assert (await pins.lookup(ctx_for())).target == identity(three_keys()[0])


# -- order with a pin ---------------------------------------------------------------------------------


def test_a_pinned_session_stays_on_its_key_while_unpinned_traffic_rotates() -> None:
    p = Planner(planner().registry)
    attempts = p.plan("claude-sonnet-4", ring(key("anthropic", "a"), key("anthropic", "b")))
    pinned = identity(attempts[1])  # key b
    seen_pinned, seen_free = [], []
    for _ in range(6):
        seen_free.append(order(attempts, None)[0].key_id)
        seen_pinned.append(order(attempts, None, pinned)[0].key_id)
    assert seen_pinned == ["b"] * 6
    # pinned requests take no turn: interleaved with them, the free traffic still alternates (were they to
    # take turns, every free request would land on the same key of two)
    assert all(x != y for x, y in itertools.pairwise(seen_free)), seen_free


def test_an_open_circuit_moves_the_pin_but_a_degraded_one_keeps_it() -> None:
    attempts = three_keys()
    pinned = identity(attempts[0])
    health = Health(BreakerSettings(failures=2))
    health.failure(attempts[0].endpoint_id, "server")  # one failure: degraded, still closed
    assert health.score(attempts[0].endpoint_id) == 1
    assert order(attempts, health, pinned)[0].key_id == "a"
    health.failure(attempts[0].endpoint_id, "server")  # open
    assert order(attempts, health, pinned)[0].key_id != "a"


def test_the_pin_never_jumps_the_callers_chain_or_byok_before_ptb() -> None:
    p = planner("OPENAI_API_KEY", "OPENROUTER_API_KEY")
    chain = p.plan("gpt-4o-mini/openai,gpt-4o-mini/openrouter")
    assert [a.provider.id for a in order(chain, None, identity(chain[1]))] == ["openai", "openrouter"]
    byok = p.plan("gpt-4o-mini", ring(key("openai", "own")))
    ptb = [a for a in byok if a.auth == "ptb"]
    assert order(byok, None, identity(ptb[-1]))[0].auth == "byok"
    # within one item and auth kind it beats price: the pricier endpoint the session is on stays first
    bare = p.plan("gpt-4o-mini")
    assert [a.provider.id for a in order(bare, None, identity(bare[1]))] == ["openrouter", "openai"]


def test_a_pin_the_plan_cannot_honour_is_ignored() -> None:
    attempts = three_keys()
    assert order(attempts, None, "anthropic:byok:org-1:deleted|claude")[0].key_id in {"a", "b", "c"}


# -- the executor: served, moved on failure -------------------------------------------------------------


class Upstream:
    """A fake attempt operation: the keys in `down` fail with a 503, the others answer."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.calls: list[str] = []

    async def __call__(self, a: Attempt) -> str:
        self.calls.append(a.key_id or "ptb")
        if a.key_id in self.down:
            raise UpstreamError(503, "server", "fake: down")
        return f"answer from {a.key_id}"


def executor(pins: SessionPins) -> Executor:
    ex = Executor(None, {}, health=Health(BreakerSettings(failures=100)))  # type: ignore[arg-type]
    ex.pins = pins
    return ex


async def run(ex: Executor, attempts: list[Attempt], up: Upstream, **kw: Any) -> tuple[str, RequestContext]:
    ctx = ctx_for(**kw)
    attempt, _, _ = await ex._run(ctx, attempts, {}, up, lambda _: None)
    return attempt.key_id, ctx


async def test_the_executor_pins_the_server_and_moves_the_pin_when_it_fails() -> None:
    attempts = three_keys()
    ex, up = executor(SessionPins(AffinitySettings())), Upstream()
    first, ctx = await run(ex, attempts, up)
    assert ctx.pinned is False  # a new session: no pin yet
    for _ in range(4):
        again, ctx = await run(ex, attempts, up)
        assert again == first and ctx.pinned is True
    up.down.add(first)
    moved, ctx = await run(ex, attempts, up)
    assert moved != first and ctx.pinned is True  # it was sent to its pin, which failed
    assert up.calls[-2:] == [first, moved]
    up.down.clear()  # the old key is back: the session stays where its cache now is
    for _ in range(3):
        again, ctx = await run(ex, attempts, up)
        assert again == moved and ctx.pinned is True
    # without a session nothing is pinned and nothing is recorded
    _, free = await run(ex, attempts, up, session=None)
    assert free.pinned is None


async def test_a_failed_request_keeps_the_pin() -> None:
    attempts = three_keys()
    pins = SessionPins(AffinitySettings())
    ex, up = executor(pins), Upstream()
    first, _ = await run(ex, attempts, up)
    up.down.update({"a", "b", "c"})
    with pytest.raises(GatewayError):
        await run(ex, attempts, up)
    up.down.clear()
    again, ctx = await run(ex, attempts, up)
    assert again == first and ctx.pinned is True
