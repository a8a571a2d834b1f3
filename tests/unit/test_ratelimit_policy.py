"""Helicone-RateLimit-Policy grammar, rule resolution (which counter each rule uses) and the refusal the caller sees."""

from __future__ import annotations

import orjson
import pytest

from switchyard.pipeline.headers import parse_helicone
from switchyard.pipeline.limit_rules import rate_headers, rejection, resolve_rules
from switchyard.pipeline.ratelimit_policy import PolicyError, RateLimitPolicy, parse_policy, policy_error
from switchyard.stores.base import GatewayKey, LimitRule, Org
from switchyard.stores.limiter_types import Decision

P = RateLimitPolicy


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Helicone's original form: ^(\d+);w=(\d+)(?:;u=(request|cents))?(?:;s=([\w-]+))?$
        ("10;w=60", P(10, 60)),
        ("1000;w=3600;u=request;s=user", P(1000, 3600, "request", "user")),
        ("10;w=1000;u=cents;s=user", P(10, 1000, "cents", "user")),
        ("300;w=1800;s=organization", P(300, 1800, "request", "organization")),
        ("5;w=60;u=cents", P(5, 60, "cents")),
        ("5;w=60;s=my-feature_2", P(5, 60, "request", "my-feature_2")),
        ("0007;w=060", P(7, 60)),
        # the key=value form of Helicone's newer builder
        ("q=10;w=60", P(10, 60)),
        ("q=10;w=60;u=cents;s=user", P(10, 60, "cents", "user")),
        ("w=60;q=10;s=Feature;u=request", P(10, 60, "request", "feature")),
        # lenient in form only: spaces, case, u after s
        ("  10 ; w = 60 ; s = user ; u = cents ", P(10, 60, "cents", "user")),
        ("10;W=60;U=CENTS", P(10, 60, "cents")),
        ("10;w=60;s=user;u=request", P(10, 60, "request", "user")),
        ("Q=3;W=60", P(3, 60)),
        ("10;w=31622400", P(10, 31622400)),
    ],
)
def test_valid_policies(text, expected):
    assert parse_policy(text) == expected


def test_header_value_leaves_the_segment_out():
    assert parse_policy("10;w=60;u=cents;s=user").header_value == "10;w=60;u=cents"
    assert parse_policy("q=3;w=60").header_value == "3;w=60;u=request"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the value is empty"),
        ("   ", "the value is empty"),
        ("10", "the window 'w=<seconds>' is missing"),
        ("10;u=cents", "the window 'w=<seconds>' is missing"),
        ("w=60", "the quota is missing (start with '<quota>;' or give 'q=<quota>')"),
        ("w=60;u=cents", "the quota is missing (start with '<quota>;' or give 'q=<quota>')"),
        ("abc;w=60", "quota 'abc' must be a whole number"),
        ("10;60", "'60' is not a name=value parameter"),
        ("-5;w=60", "quota '-5' must be a whole number"),
        ("ten;w=60", "quota 'ten' must be a whole number"),
        ("q=ten;w=60", "quota 'ten' must be a whole number"),
        ("q=1.5;w=60", "quota '1.5' must be a whole number"),
        ("q=;w=60", "quota '' must be a whole number"),
        ("0;w=60", "quota must be at least 1"),
        ("q=0;w=60", "quota must be at least 1"),
        ("10000000000000;w=60", "quota must be at most 1000000000000"),
        ("10;w=abc", "window 'w' 'abc' must be a whole number"),
        ("10;w=1m", "window 'w' '1m' must be a whole number"),
        ("10;w=", "window 'w' '' must be a whole number"),
        ("10;w=0", "window 'w' must be at least 1"),
        ("10;w=31622401", "window 'w' must be at most 31622400"),
        ("10;w=60;u=tokens", "unit 'u=tokens' must be 'request' or 'cents'"),
        ("10;w=60;u=requests", "unit 'u=requests' must be 'request' or 'cents'"),
        ("10;w=60;u=", "unit 'u=' must be 'request' or 'cents'"),
        ("10;w=60;s=a.b", "segment 's=a.b' must be 'user' or a property name (letters, digits, '_' or '-')"),
        ("10;w=60;s=", "segment 's=' must be 'user' or a property name (letters, digits, '_' or '-')"),
        ("10;w=60;s=a b", "segment 's=a b' must be 'user' or a property name (letters, digits, '_' or '-')"),
        ("10;w=60;x=1", "unknown parameter 'x' (allowed: q, w, u, s)"),
        ("10;w=60;window=60", "unknown parameter 'window' (allowed: q, w, u, s)"),
        ("10;w=60;w=30", "parameter 'w' is given twice"),
        ("10;q=5;w=60", "parameter 'q' is given twice"),
        ("q=1;q=2;w=60", "parameter 'q' is given twice"),
        ("10;w=60;", "it has an empty parameter (two ';' in a row, or a ';' at an end)"),
        ("10;;w=60", "it has an empty parameter (two ';' in a row, or a ';' at an end)"),
        (";10;w=60", "it has an empty parameter (two ';' in a row, or a ';' at an end)"),
        ("10,w=60", "unknown parameter '10,w' (allowed: q, w, u, s)"),
    ],
)
def test_malformed_policies_say_why(text, reason):
    with pytest.raises(PolicyError) as e:
        parse_policy(text)
    assert str(e.value) == reason


def test_long_values_are_clipped_in_reasons():
    with pytest.raises(PolicyError) as e:
        parse_policy("10;w=60;s=" + "x" * 100 + ".")
    assert "'s=" + "x" * 39 + "…'" in str(e.value)


def test_policy_error_is_a_400_naming_the_header_and_the_grammar():
    err = policy_error("10;w=abc", "window 'w' 'abc' must be a whole number")
    assert err.status == 400 and err.code == "invalid_rate_limit_policy"
    assert err.message == (
        "Invalid Helicone-RateLimit-Policy '10;w=abc': window 'w' 'abc' must be a whole number; expected "
        "'<quota>;w=<seconds>[;u=request|cents][;s=user|<property>]' or 'q=<quota>;w=<seconds>[;...]'."
    )
    body = orjson.loads(err.openai_body())["error"]
    assert body["type"] == "invalid_request_error" and body["code"] == "invalid_rate_limit_policy"
    assert orjson.loads(err.anthropic_body())["error"]["type"] == "invalid_request_error"


# -- rule resolution ---------------------------------------------------------------------------------------------


class _Principal:
    def __init__(self, key_limits=(), org_limits=()):
        self.key = GatewayKey("key1", "org1", "k", "sy-", 0, None, limits=tuple(key_limits))
        self.org = Org("org1", "acme", 0, limits=tuple(org_limits))


def _h(**headers):
    return parse_helicone({k.lower(): v for k, v in headers.items()})


def test_header_policy_counters_are_per_key_then_segment():
    p = _Principal()
    plain = resolve_rules(p, _h(), parse_policy("3;w=60"))
    assert [(r.charge.counter, r.charge.metric, r.charge.limit, r.charge.amount) for r in plain] == [
        ("r60:h:key1", "requests", 3, 1)
    ]
    alice = resolve_rules(p, _h(**{"Helicone-User-Id": "alice"}), parse_policy("3;w=60;s=user"))[0]
    nobody = resolve_rules(p, _h(), parse_policy("3;w=60;s=user"))[0]
    assert alice.charge.counter == "r60:h:key1:u:alice"
    assert nobody.charge.counter == "r60:h:key1:u:"  # no user id: every such request shares one counter
    prop = resolve_rules(p, _h(**{"Helicone-Property-Feature": "chat"}), parse_policy("3;w=60;s=Feature"))[0]
    assert prop.charge.counter == "r60:h:key1:p:feature=chat"
    assert alice.where == "for user 'alice' on this key (Helicone-RateLimit-Policy)"
    assert nobody.where == "for requests without a Helicone-User-Id on this key (Helicone-RateLimit-Policy)"
    assert prop.where == "for Helicone-Property-feature 'chat' on this key (Helicone-RateLimit-Policy)"


def test_cents_policy_is_a_usd_rule_reserving_the_worst_case():
    (r,) = resolve_rules(_Principal(), _h(), parse_policy("25;w=3600;u=cents"), worst_usd=0.0123)
    assert r.charge.metric == "usd"
    assert r.charge.limit == 250_000_000  # 25 cents in nano-dollars
    assert r.charge.amount == 12_300_000
    assert r.charge.counter == "u3600:h:key1"


def test_configured_rules_use_their_scope():
    key_rules = [LimitRule("requests", 100, 60), LimitRule("tokens", 5000, 3600, "user")]
    org_rules = [LimitRule("usd", 5.0, 86400, "org"), LimitRule("requests", 10, 60, "property:Team")]
    h = _h(**{"Helicone-User-Id": "bob", "Helicone-Property-Team": "red"})
    rules = resolve_rules(_Principal(key_rules, org_rules), h, None, worst_usd=0.5)
    got = [(r.charge.counter, r.charge.metric, r.charge.limit, r.charge.amount, r.scope) for r in rules]
    assert got == [
        ("r60:k:key1", "requests", 100, 1, "key"),
        ("t3600:u:org1:bob", "tokens", 5000, 0, "user"),
        ("u86400:o:org1", "usd", 5_000_000_000, 500_000_000, "org"),
        ("r60:p:org1:team=red", "requests", 10, 1, "property"),
    ]
    assert rules[2].where == "for this organization (organization limit)"
    assert rules[1].where == "for user 'bob' (key limit)"


def test_the_same_counter_twice_keeps_the_stricter_rule():
    rules = resolve_rules(
        _Principal([LimitRule("requests", 10, 60), LimitRule("requests", 4, 60)]), _h(), None
    )
    assert [(r.charge.counter, r.charge.limit) for r in rules] == [("r60:k:key1", 4)]


def test_fractional_limits_round_the_way_used_lt_limit_means():
    (r,) = resolve_rules(_Principal([LimitRule("requests", 2.5, 60)]), _h(), None)
    assert r.charge.limit == 3  # used < 2.5 admits a third request, exactly like used < 3


def test_long_caller_values_are_hashed_in_counter_ids():
    (r,) = resolve_rules(_Principal(), _h(**{"Helicone-User-Id": "u" * 500}), parse_policy("1;w=60;s=user"))
    assert len(r.charge.counter) < 80 and "#" in r.charge.counter


# -- what the caller sees ----------------------------------------------------------------------------------------


def _reject(rule, used, reset_ms, retry_ms):
    return rejection(rule, Decision(False, [used], [reset_ms], 0, retry_ms))


def test_request_rejection_names_the_rule_and_carries_helicone_headers():
    (r,) = resolve_rules(_Principal(), _h(), parse_policy("10;w=60"))
    err = _reject(r, 10, 41_500, 41_500)
    assert err.status == 429 and err.code == "rate_limited"
    assert err.message == (
        "Rate limit reached: 10 requests per 60 s for this key (Helicone-RateLimit-Policy). Try again in 42 s."
    )
    assert err.headers == {
        "retry-after": "42",
        "helicone-ratelimit-limit": "10",
        "helicone-ratelimit-remaining": "0",
        "helicone-ratelimit-policy": "10;w=60;u=request",
        "helicone-ratelimit-reset": "42",
    }


def test_budget_rejections_say_budget_exceeded():
    (cents,) = resolve_rules(_Principal(), _h(), parse_policy("1;w=60;u=cents"))
    err = _reject(cents, 12_000_000, 30_000, 30_000)
    assert err.code == "budget_exceeded"
    assert err.message.startswith(
        "Budget exceeded: 1 cent per 60 s for this key (Helicone-RateLimit-Policy)."
    )
    assert err.headers["helicone-ratelimit-policy"] == "1;w=60;u=cents"
    (usd,) = resolve_rules(_Principal([LimitRule("usd", 5, 86400)]), _h(), None)
    assert _reject(usd, 5 * 10**9, None, 1000).message == (
        "Budget exceeded: $5.00 per 86400 s for this key (key limit). Try again in 1 s."
    )
    (tiny,) = resolve_rules(_Principal([LimitRule("usd", 0.0025, 60)]), _h(), None)
    assert "$0.0025 per 60 s" in _reject(tiny, 3_000_000, None, 1000).message


def test_token_rejection():
    (r,) = resolve_rules(_Principal(org_limits=[LimitRule("tokens", 1, 60, "org")]), _h(), None)
    err = _reject(r, 51, 59_000, 59_000)
    assert err.code == "rate_limited"
    assert (
        err.message
        == "Token limit reached: 1 token per 60 s for this organization (organization limit). Try again in 59 s."
    )
    assert err.headers["helicone-ratelimit-policy"] == "1;w=60;u=token"


def test_success_headers_count_down():
    (r,) = resolve_rules(_Principal(), _h(), parse_policy("3;w=60"))
    assert dict(rate_headers(r, 1, 60_000)) == {
        "helicone-ratelimit-limit": "3",
        "helicone-ratelimit-remaining": "2",
        "helicone-ratelimit-policy": "3;w=60;u=request",
        "helicone-ratelimit-reset": "60",
    }
    (c,) = resolve_rules(_Principal(), _h(), parse_policy("10;w=60;u=cents"))
    # 3.5 cents used or held: 6 whole cents remain
    assert dict(rate_headers(c, 35_000_000, None))["helicone-ratelimit-remaining"] == "6"
