"""`Limits.admit` binds the rules of one (policy header, key, organisation) once and reuses them: the reused
binding must count, answer and settle exactly as resolving the rules afresh would, follow a changed key or
organisation at once, and never reuse what depends on the request (a user or property segment, a USD reservation)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from switchyard.config import Settings
from switchyard.errors import GatewayError
from switchyard.observe.cost import Usage
from switchyard.pipeline.auth import Principal
from switchyard.pipeline.headers import HeliconeHeaders
from switchyard.pipeline.limit_rules import rate_headers, resolve_rules
from switchyard.pipeline.limits import NO_LIMITS, Limits
from switchyard.pipeline.ratelimit_policy import parse_policy
from switchyard.providers.registry import load_registry
from switchyard.stores.base import GatewayKey, LimitRule, Org
from switchyard.stores.limiter_memory import MemoryLimiter

POLICY = "helicone-ratelimit-policy"


def _principal(key_limits: tuple[LimitRule, ...] = (), org_limits: tuple[LimitRule, ...] = ()) -> Principal:
    org = Org("org-1", "o", 0, limits=org_limits)
    return Principal(key=GatewayKey("key-1", "org-1", None, "p", 0, None, limits=key_limits), org=org)


def _ctx(principal: Principal, headers: dict[str, str], user: str | None = None, **extra: Any) -> Any:
    return SimpleNamespace(
        body={"model": "m", "messages": [], "max_tokens": 10},
        raw_body=b"x" * 100,
        principal=principal,
        forward_headers=headers,
        helicone=HeliconeHeaders("rid", user_id=user),
        cache_hit=False,
        cost_usd=None,
        usage=None,
        **extra,
    )


def _admit(lim: Limits, ctx: Any) -> Any:
    return asyncio.run(lim.admit(ctx, []))


def test_a_reused_binding_counts_and_answers_as_a_fresh_resolution():
    lim = Limits(MemoryLimiter())
    p = _principal()
    ctx = _ctx(p, {POLICY: "3;w=60"})
    rule = resolve_rules(p, ctx.helicone, parse_policy("3;w=60"))[0]
    for used in (1, 2, 3):
        a = _admit(lim, ctx)
        want = [(k.encode(), v.encode()) for k, v in rate_headers(rule, used, 60_000)]
        assert a.headers == want
        assert a._rules[0].charge == rule.charge
    assert len(lim._bindings) == 1
    with pytest.raises(GatewayError) as e:  # the fourth in the window
        _admit(lim, ctx)
    assert e.value.status == 429 and e.value.headers["helicone-ratelimit-remaining"] == "0"


def test_a_changed_key_or_organisation_is_bound_anew():
    lim = Limits(MemoryLimiter())
    _admit(lim, _ctx(_principal(), {POLICY: "100;w=60"}))
    # the same key id, now with a limit of its own (the auth cache hands out a new object after a change)
    strict = _principal(key_limits=(LimitRule("requests", 1, 60),))
    assert len(_admit(lim, _ctx(strict, {POLICY: "100;w=60"}))._rules) == 2
    with pytest.raises(GatewayError) as e:
        _admit(lim, _ctx(strict, {POLICY: "100;w=60"}))
    assert e.value.code == "rate_limited" and "(key limit)" in e.value.message
    # and the organisation's limit removed again: back to the policy alone
    assert len(_admit(lim, _ctx(_principal(), {POLICY: "100;w=60"}))._rules) == 1


def test_segmented_counters_follow_each_request():
    lim = Limits(MemoryLimiter())
    p = _principal()
    for user in ("alice", "bob"):
        a = _admit(lim, _ctx(p, {POLICY: "1;w=60;s=user"}, user=user))
        assert a._rules[0].charge.counter == f"r60:h:key-1:u:{user}"
    with pytest.raises(GatewayError) as e:
        _admit(lim, _ctx(p, {POLICY: "1;w=60;s=user"}, user="alice"))
    assert "for user 'alice' on this key" in e.value.message
    org_rule = (LimitRule("requests", 5, 60, "property:team"),)
    q = _principal(org_limits=org_rule)
    ctx = _ctx(q, {})
    ctx.helicone.properties["team"] = "red"
    assert _admit(lim, ctx)._rules[0].charge.counter == "r60:p:org-1:team=red"


def test_a_budget_reserves_each_requests_own_worst_case():
    lim = Limits(MemoryLimiter())
    p = _principal()
    reg = load_registry(Settings.model_validate({"home": "/tmp/switchyard-test-bindings"}), env={})
    mini = SimpleNamespace(
        endpoint=reg.models["gpt-4o-mini"].endpoints["openai"], auth="ptb", route="m/openai"
    )
    amounts = []
    for max_tokens in (10, 1000):
        ctx = _ctx(p, {POLICY: "1000;w=60;u=cents"})
        ctx.body["max_tokens"] = max_tokens
        a = asyncio.run(lim.admit(ctx, [mini]))
        amounts.append(a._rules[0].charge.amount)
    assert amounts[0] < amounts[1]


def test_only_rules_with_something_to_settle_are_settled():
    lim = Limits(MemoryLimiter())
    requests_only = _admit(lim, _ctx(_principal(), {POLICY: "10;w=60"}))
    assert requests_only._take(_ctx(_principal(), {})) == []  # a request count is final at admission
    tokens = _principal(org_limits=(LimitRule("tokens", 1000, 60, "org"),))
    ctx = _ctx(tokens, {})
    a = _admit(lim, ctx)
    ctx.usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
    lim.finish(a, ctx)
    assert _admit(lim, ctx).headers == [] and lim.fallback._counters["t60:o:org-1"].total == 15


def test_no_rule_at_all_binds_nothing():
    lim = Limits(MemoryLimiter())
    assert _admit(lim, _ctx(_principal(), {})) is NO_LIMITS
    assert lim._bindings == {}


def test_a_bad_policy_is_refused_every_time_and_never_bound():
    lim = Limits(MemoryLimiter())
    for _ in range(2):
        with pytest.raises(GatewayError) as e:
            _admit(lim, _ctx(_principal(), {POLICY: "3;w=0"}))
        assert e.value.code == "invalid_rate_limit_policy"
    assert lim._bindings == {}
