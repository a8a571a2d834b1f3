"""Limit rules bound to one request (which counter each uses) and how a refusal reads to the caller. Pure.

Counter ids are `<metric code><window seconds>:<scope>`: the same rule shape on the same scope shares a counter
(two header policies with the same window on one key count together, as Helicone's do), and rules never share
across metrics or windows. Caller-chosen values (user ids, property values) longer than 64 characters are hashed.
Counters segmented by such values carry a group (`h:<key id>` for header policies, `o:<org id>` for configured
limits) within which the limiter keeps at most `limits.max_segment_counters` live ones.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from typing import Any

from ..errors import GatewayError
from ..stores.base import LimitRule
from ..stores.limiter_types import NANO_PER_USD, REQUESTS, TOKENS, USD, Charge, Decision
from .ratelimit_policy import RateLimitPolicy

log = logging.getLogger("switchyard.limits")

_NANO_PER_CENT = NANO_PER_USD // 100
_METRIC_CODE = {REQUESTS: "r", TOKENS: "t", USD: "u"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule bound to one request: the counter it uses and how to describe it to the caller."""

    charge: Charge  # amount: what admission records (1 request, the usd reservation, 0 tokens)
    source: str  # "policy" | "key" | "org"
    scope: str  # metric label: "policy" | "key" | "org" | "user" | "property"
    where: str  # "for this key", "for user 'u1' on this key", ...
    policy: RateLimitPolicy | None = None


def _value(v: str | None) -> str:
    """A caller-chosen value inside a counter id: long ones hashed so keys stay short. A short value that starts
    with '#' is hashed too, so no caller can name the counter of another's long value (`#<its hash>`)."""
    v = v or ""
    return v if len(v) <= 64 and not v.startswith("#") else "#" + hashlib.sha256(v.encode()).hexdigest()[:32]


def _limit_units(metric: str, limit: float) -> int:
    if metric == USD:
        return max(0, round(limit * NANO_PER_USD))
    return max(0, math.ceil(limit))  # used < 2.5 admits the third, as used < 3 does


def resolve_rules(
    principal: Any, helicone: Any, policy: RateLimitPolicy | None, worst_usd: float = 0.0
) -> list[Rule]:
    """Every rule that applies to this request, each with its counter. Pure."""
    key, org = principal.key, principal.org
    reserve = math.ceil(worst_usd * NANO_PER_USD) if worst_usd > 0 else 0
    rules: list[Rule] = []
    if policy is not None:
        metric = USD if policy.unit == "cents" else REQUESTS
        seg, where, group = "", "for this key", ""
        if policy.segment is not None:
            group = f"h:{key.id}"
        if policy.segment == "user":
            seg, where = f":u:{_value(helicone.user_id)}", _for_user(helicone.user_id) + " on this key"
        elif policy.segment is not None:
            value = helicone.properties.get(policy.segment, "")
            seg = f":p:{policy.segment}={_value(value)}"
            where = _for_property(policy.segment, value) + " on this key"
        limit = policy.quota * _NANO_PER_CENT if metric == USD else policy.quota
        counter = f"{_METRIC_CODE[metric]}{policy.window}:h:{key.id}{seg}"
        charge = Charge(counter, metric, limit, policy.window * 1000, reserve if metric == USD else 1, group)
        rules.append(Rule(charge, "policy", "policy", where + " (Helicone-RateLimit-Policy)", policy))
    for source, configured in (("key", getattr(key, "limits", ())), ("org", getattr(org, "limits", ()))):
        for rule in configured:
            bound = _configured(source, rule, key, org, helicone, reserve)
            if bound is not None:
                rules.append(bound)
    return _dedupe(rules)


@dataclass(slots=True)
class Binding:
    """What admission needs of one (policy header, gateway key, organisation), worked out once and kept by
    `limits.Limits` for the requests that follow: the parsed policy, whether a USD rule applies, and — when no
    request can change them (no counter segmented by a caller's user or property, no USD reservation to size,
    no malformed configured rule to warn about) — the rules themselves, their charges and the policy's answer
    headers. `key` and `org` are the principal's own objects: a changed key or organisation is a new object
    (the auth cache replaces it), which a binding made for the old one does not match."""

    key: Any
    org: Any
    policy: RateLimitPolicy | None
    usd: bool  # a USD rule applies: the plan is bounded and the reservation sized per request
    rules: list[Rule] | None  # None: resolved per request (resolve_rules)
    charges: list[Charge]
    settles: bool  # some rule is settled after the answer (tokens, usd); requests are final at admission
    headers: RateHeaders | None = None  # the policy rule's answer headers (made at the first admission)

    def rate_headers(self, rule: Rule) -> RateHeaders:
        """The policy rule's answer headers: they depend on the policy alone, never on the request's segment."""
        if self.headers is None:
            self.headers = RateHeaders(rule)
        return self.headers


def bind(principal: Any, helicone: Any, policy: RateLimitPolicy | None) -> Binding:
    key, org = principal.key, principal.org
    configured = (*getattr(key, "limits", ()), *getattr(org, "limits", ()))
    usd = (policy is not None and policy.unit == "cents") or any(r.metric == USD for r in configured)
    fixed = (
        not usd
        and (policy is None or policy.segment is None)
        and all(_request_independent(r) for r in configured)
    )
    settles = usd or any(r.metric == TOKENS for r in configured)
    if not fixed:
        return Binding(key, org, policy, usd, None, [], settles)
    rules = resolve_rules(principal, helicone, policy)
    return Binding(key, org, policy, usd, rules, [r.charge for r in rules], settles)


def _request_independent(rule: LimitRule) -> bool:
    if rule.metric not in _METRIC_CODE or rule.window_seconds < 1:
        return False  # malformed: resolve_rules warns about it on every request
    per = rule.per or ""
    return per != "user" and not per.startswith("property:")


def _configured(source: str, rule: LimitRule, key: Any, org: Any, helicone: Any, reserve: int) -> Rule | None:
    if rule.metric not in _METRIC_CODE or rule.window_seconds < 1:
        log.warning("ignoring a malformed %s limit: %s", source, rule.as_dict())
        return None
    label = "key limit" if source == "key" else "organization limit"
    per = rule.per or source
    group = f"o:{org.id}"  # per-user and per-property counters only; cleared below for the others
    if per == "org":
        scope, counter_scope, where = "org", f"o:{org.id}", "for this organization"
    elif per == "user":
        user = helicone.user_id or ""
        scope, counter_scope, where = "user", f"u:{org.id}:{_value(user)}", _for_user(user)
    elif per.startswith("property:"):
        name = per[len("property:") :].lower()
        value = helicone.properties.get(name, "")
        scope, counter_scope = "property", f"p:{org.id}:{name}={_value(value)}"
        where = _for_property(name, value)
    else:  # "key" (and anything unrecognised: the narrowest scope, never no limit at all)
        scope, counter_scope, where = "key", f"k:{key.id}", "for this key"
    if scope in ("org", "key"):
        group = ""
    amount = {REQUESTS: 1, USD: reserve, TOKENS: 0}[rule.metric]
    counter = f"{_METRIC_CODE[rule.metric]}{rule.window_seconds}:{counter_scope}"
    charge = Charge(
        counter, rule.metric, _limit_units(rule.metric, rule.limit), rule.window_seconds * 1000, amount, group
    )
    return Rule(charge, source, scope, f"{where} ({label})")


def _for_user(user: str | None) -> str:
    return f"for user '{user}'" if user else "for requests without a Helicone-User-Id"


def _for_property(name: str, value: str) -> str:
    return (
        f"for Helicone-Property-{name} '{value}'"
        if value
        else f"for requests without Helicone-Property-{name}"
    )


def _dedupe(rules: list[Rule]) -> list[Rule]:
    """Two rules on one counter (say the same window configured twice) keep the stricter: one reservation per
    counter and request."""
    seen: dict[str, int] = {}
    out: list[Rule] = []
    for r in rules:
        i = seen.get(r.charge.counter)
        if i is None:
            seen[r.charge.counter] = len(out)
            out.append(r)
        elif r.charge.limit < out[i].charge.limit:
            out[i] = r
    return out


# -- what the caller sees -------------------------------------------------------------------------------------


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6f}".rstrip("0").rstrip(".")


def _quota(rule: Rule) -> tuple[str, str, float]:
    """(quota as shown, unit for the Policy header, units per counted amount)."""
    c = rule.charge
    if c.metric == USD:
        return _num(c.limit / _NANO_PER_CENT), "cents", _NANO_PER_CENT
    return str(c.limit), ("request" if c.metric == REQUESTS else "token"), 1


def _remaining_and_reset(rule: Rule, per: float, used: int, reset_ms: int | None) -> tuple[int, int]:
    remaining = max(0, math.floor((rule.charge.limit - used) / per))
    window = rule.charge.window_ms // 1000
    # bucket rounding can add up to window/1000 to an entry's life: never report more than the window
    reset = min(window, math.ceil(reset_ms / 1000)) if reset_ms is not None else window
    return remaining, max(0, reset)


def rate_headers(rule: Rule, used: int, reset_ms: int | None) -> list[tuple[str, str]]:
    quota, unit, per = _quota(rule)
    remaining, reset = _remaining_and_reset(rule, per, used, reset_ms)
    return [
        ("helicone-ratelimit-limit", quota),
        ("helicone-ratelimit-remaining", str(remaining)),
        ("helicone-ratelimit-policy", f"{quota};w={rule.charge.window_ms // 1000};u={unit}"),
        ("helicone-ratelimit-reset", str(reset)),
    ]


class RateHeaders:
    """`rate_headers` of one rule as answer headers (bytes), with the parts that never change encoded once: a
    rule bound once serves many requests (`limits.Limits` keeps it)."""

    __slots__ = ("_limit", "_per", "_policy", "_rule")

    def __init__(self, rule: Rule) -> None:
        quota, unit, per = _quota(rule)
        self._rule, self._per = rule, per
        self._limit = quota.encode()
        self._policy = f"{quota};w={rule.charge.window_ms // 1000};u={unit}".encode()

    def encoded(self, used: int, reset_ms: int | None) -> list[tuple[bytes, bytes]]:
        remaining, reset = _remaining_and_reset(self._rule, self._per, used, reset_ms)
        return [
            (b"helicone-ratelimit-limit", self._limit),
            (b"helicone-ratelimit-remaining", str(remaining).encode()),
            (b"helicone-ratelimit-policy", self._policy),
            (b"helicone-ratelimit-reset", str(reset).encode()),
        ]


def rejection(rule: Rule, decision: Decision) -> GatewayError:
    i = decision.blocked
    c = rule.charge
    window = c.window_ms // 1000
    wait = max(1, math.ceil(decision.retry_after_ms / 1000))
    if c.metric == USD:
        if rule.policy is not None:
            amount = f"{rule.policy.quota} cent{'s' if rule.policy.quota != 1 else ''}"
        else:
            usd = c.limit / NANO_PER_USD
            amount = f"${usd:.2f}" if round(usd * 100, 9).is_integer() else f"${_num(usd)}"
        message, code = f"Budget exceeded: {amount} per {window} s {rule.where}.", "budget_exceeded"
    else:
        noun = "request" if c.metric == REQUESTS else "token"
        what = "Rate limit" if c.metric == REQUESTS else "Token limit"
        amount = f"{c.limit} {noun}{'s' if c.limit != 1 else ''}"
        message, code = f"{what} reached: {amount} per {window} s {rule.where}.", "rate_limited"
    headers = dict(rate_headers(rule, decision.used[i], decision.reset_ms[i]))
    headers["retry-after"] = str(wait)
    return GatewayError(429, f"{message} Try again in {wait} s.", code=code, headers=headers)
