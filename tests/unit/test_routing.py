"""BYOK in the plan, request-time ordering (health, key rotation), key allow-lists, retry policy, options."""

from __future__ import annotations

import pytest

from switchyard.config import BreakerSettings, RetrySettings
from switchyard.errors import GatewayError
from switchyard.pipeline.health import Health
from switchyard.pipeline.keyring import Keyring, OrgKey, org_key
from switchyard.pipeline.options import route_options
from switchyard.pipeline.order import order
from switchyard.pipeline.plan import Planner, restrict
from switchyard.pipeline.retry import RetryPolicy, retry_policy
from switchyard.providers.azure import AzureProvider
from switchyard.providers.base import UpstreamError
from switchyard.security import Secrets
from switchyard.stores.base import ProviderKey
from unit.test_plan import planner


def ring(*keys: OrgKey, org: str = "org-1", version: int = 1) -> Keyring:
    by: dict[str, list[OrgKey]] = {}
    for k in keys:
        by.setdefault(k.provider, []).append(k)
    return Keyring(org, version, {p: tuple(v) for p, v in by.items()})


def key(provider: str, kid: str, secret: str = "sk-org-secret", **config: str) -> OrgKey:
    return OrgKey(kid, provider, secret, config.pop("base_url", None), config)


# -- BYOK in the plan -----------------------------------------------------------------------------


def test_byok_attempts_come_before_ptb_for_a_bare_model() -> None:
    p = planner("OPENAI_API_KEY", "OPENROUTER_API_KEY")
    attempts = p.plan("gpt-4o-mini", ring(key("openrouter", "mine")))
    assert [a.source for a in attempts] == [
        "gpt-4o-mini/openrouter/byok/mine",
        "gpt-4o-mini/openai/ptb",
        "gpt-4o-mini/openrouter/ptb",
    ]
    byok = attempts[0]
    assert byok.target.api_key == "sk-org-secret"  # the organisation's key, not the gateway's
    assert attempts[2].target.api_key == "key-for-openrouter_api_key"


def test_byok_makes_a_provider_usable_without_a_gateway_key() -> None:
    p = planner()  # the gateway has no keys at all
    attempts = p.plan("claude-sonnet-4", ring(key("anthropic", "k1")))
    assert [a.source for a in attempts] == ["claude-sonnet-4/anthropic/byok/k1"]


def test_explicit_key_id_names_exactly_one_key() -> None:
    p = planner("OPENAI_API_KEY")
    r = ring(key("openai", "a", "sk-a"), key("openai", "b", "sk-b"))
    attempts = p.plan("gpt-4o-mini/openai/b", r)
    assert [(a.source, a.target.api_key) for a in attempts] == [("gpt-4o-mini/openai/byok/b", "sk-b")]


def test_unknown_key_id_is_a_clear_400() -> None:
    p = planner("OPENAI_API_KEY")
    with pytest.raises(GatewayError) as info:
        p.plan("gpt-4o-mini/openai/nope", ring(key("openai", "a")))
    assert info.value.status == 400 and info.value.code == "provider_key_not_found"
    assert "nope" in info.value.message


def test_exclusions_apply_to_byok_too() -> None:
    p = planner("OPENAI_API_KEY")
    attempts = p.plan("gpt-4o-mini,!openrouter", ring(key("openrouter", "mine")))
    assert [a.source for a in attempts] == ["gpt-4o-mini/openai/ptb"]


def test_byok_settings_override_the_provider_and_drop_gateway_secrets() -> None:
    p = planner(providers={"azure": {"config": {"api_version": "2024-01-01"}}})
    attempts = p.plan(
        "gpt-4o-mini/azure",
        ring(key("azure", "az", deployment="mini-prod", base_url="https://org.openai.azure.com")),
    )
    t = attempts[0].target
    url = AzureProvider().native_request({"messages": []}, t, "chat").url
    assert url.startswith(
        "https://org.openai.azure.com/openai/deployments/mini-prod/"
    )  # the key's, not acme's
    assert t.config["api_version"] == "2024-01-01"  # provider default kept where the key says nothing


def test_plans_are_cached_per_keyring_version() -> None:
    p = planner("OPENAI_API_KEY")
    r1 = ring(key("openrouter", "x"), version=1)
    assert p.plan("gpt-4o-mini", r1)[0].auth == "byok"
    assert (
        p.plan("gpt-4o-mini")[0].auth == "ptb"
    )  # another organisation without keys: not served from r1's plan
    r2 = Keyring("org-1", 2, {})
    assert p.plan("gpt-4o-mini", r2)[0].auth == "ptb"


def test_org_key_decrypts_plain_and_aws_secrets() -> None:
    secrets = Secrets(b"master")
    plain = ProviderKey(
        "k",
        "o",
        "openai",
        "…1234",
        {"base_url": "https://proxy.example/v1/"},
        True,
        0,
        0,
        ciphertext=secrets.encrypt("sk-1234"),
    )
    k = org_key(plain, secrets)
    assert (k.api_key, k.base_url, k.auth) == ("sk-1234", "https://proxy.example/v1", None)
    aws = ProviderKey(
        "b",
        "o",
        "bedrock",
        "…WXYZ",
        {"region": "eu-west-1"},
        True,
        0,
        0,
        ciphertext=secrets.encrypt('{"access_key_id":"AKIA","secret_access_key":"s3cr3t"}'),
    )
    k = org_key(aws, secrets)
    assert (k.api_key, k.auth, k.config["region"], k.config["secret_access_key"]) == (
        "AKIA",
        "aws-sigv4",
        "eu-west-1",
        "s3cr3t",
    )
    assert "s3cr3t" not in repr(k) and "AKIA" not in repr(k)


# -- request-time order ---------------------------------------------------------------------------


def test_several_keys_for_one_endpoint_take_turns() -> None:
    p = Planner(planner().registry)
    attempts = p.plan(
        "claude-sonnet-4", ring(key("anthropic", "a"), key("anthropic", "b"), key("anthropic", "c"))
    )
    firsts = {order(attempts, None)[0].key_id for _ in range(6)}
    assert firsts == {"a", "b", "c"}


def test_unhealthy_endpoint_goes_after_healthy_ones_within_its_group_only() -> None:
    p = planner("OPENAI_API_KEY", "OPENROUTER_API_KEY")
    health = Health(BreakerSettings(failures=2))
    attempts = p.plan("gpt-4o-mini")
    assert [a.provider.id for a in attempts] == ["openai", "openrouter"]
    health.failure("openai:ptb", "server")
    assert [a.provider.id for a in order(attempts, health)] == ["openrouter", "openai"]
    # a caller's chain is never reordered by health
    chain = p.plan("gpt-4o-mini/openai,gpt-4o-mini/openrouter")
    assert [a.provider.id for a in order(chain, health)] == ["openai", "openrouter"]


def test_byok_stays_first_even_when_unhealthy() -> None:
    p = planner("OPENAI_API_KEY")
    health = Health(BreakerSettings(failures=1))
    attempts = p.plan("gpt-4o-mini", ring(key("openai", "own")))
    health.failure(attempts[0].endpoint_id, "server")
    assert health.score(attempts[0].endpoint_id) == 2  # open
    assert [a.auth for a in order(attempts, health)] == ["byok", "ptb"]


# -- allow-lists ------------------------------------------------------------------------------------


def test_allow_list_keeps_matching_attempts_and_refuses_the_rest() -> None:
    p = planner("OPENAI_API_KEY", "OPENROUTER_API_KEY")
    attempts = p.plan("gpt-4o-mini")
    assert restrict(attempts, ()) is attempts
    assert [a.provider.id for a in restrict(attempts, ("gpt-4o-mini/openrouter",))] == ["openrouter"]
    assert len(restrict(attempts, ("gpt-4o-mini",))) == 2
    with pytest.raises(GatewayError) as info:
        restrict(attempts, ("claude-sonnet-4",))
    assert info.value.status == 403 and info.value.code == "model_not_allowed"
    assert "claude-sonnet-4" in info.value.message


# -- retries ------------------------------------------------------------------------------------------


def err(
    kind: str, status: int = 503, retry_after: float | None = None, should: bool | None = None
) -> UpstreamError:
    e = UpstreamError(status, kind, "x", retry_after=retry_after)  # type: ignore[arg-type]
    e.should_retry = should
    return e


def test_backoff_grows_by_factor_with_jitter_and_caps() -> None:
    p = RetryPolicy(num=5, factor=2, min_ms=100, max_ms=500)
    lows = [p.delay(n, err("server"), rand=lambda: 0.0) for n in range(5)]
    highs = [p.delay(n, err("server"), rand=lambda: 1.0) for n in range(5)]
    assert lows == [0.05, 0.1, 0.2, 0.25, 0.25]
    assert highs == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert p.delay(5, err("server")) is None  # out of retries


def test_retry_after_wins_and_too_long_means_move_on() -> None:
    p = RetryPolicy(num=3, min_ms=100, max_ms=2000)
    assert p.delay(0, err("rate_limited", 429, retry_after=1.5)) == 1.5
    assert p.delay(0, err("rate_limited", 429, retry_after=30)) is None


def test_should_retry_header_overrides_the_status() -> None:
    p = RetryPolicy(num=2)
    assert p.delay(0, err("server", should=False)) is None
    assert p.delay(0, err("bad_request", 400, should=True), rand=lambda: 0) == 0.5
    assert p.delay(0, err("bad_request", 400)) is None


def test_retry_headers_follow_helicone_defaults_and_validate() -> None:
    default = RetryPolicy.from_settings(RetrySettings())
    assert default.num == 0  # off unless configured or asked for
    assert retry_policy({}, default) is default
    assert retry_policy({"helicone-retry-enabled": "true"}, default) == RetryPolicy(5, 2.0, 1000, 10_000)
    assert retry_policy({"helicone-retry-enabled": "false"}, RetryPolicy(3)).num == 0
    got = retry_policy(
        {
            "helicone-retry-enabled": "TRUE",
            "helicone-retry-num": "2",
            "helicone-retry-factor": "1.5",
            "helicone-retry-min-timeout": "10",
            "helicone-retry-max-timeout": "50",
        },
        default,
    )
    assert got == RetryPolicy(2, 1.5, 10, 50)
    for name, value in (
        ("helicone-retry-num", "many"),
        ("helicone-retry-num", "11"),
        ("helicone-retry-factor", "0"),
    ):
        with pytest.raises(GatewayError) as info:
            retry_policy({"helicone-retry-enabled": "true", name: value}, default)
        assert info.value.status == 400 and info.value.code == "invalid_header"


def test_caller_retry_headers_never_grow_the_shared_options() -> None:
    """Only the configured policy's options are kept: a caller varying its Helicone-Retry-* values gets options of
    its own each time, and the table does not grow with them."""
    from switchyard.pipeline import options

    default = RetryPolicy(2)
    shared = route_options({}, default)
    assert shared.retry is default and route_options({"accept": "x"}, default) is shared
    size = len(options._DEFAULTS)
    for i in range(50):
        o = route_options({"helicone-retry-enabled": "true", "helicone-retry-factor": f"1.{i}"}, default)
        assert o.retry == RetryPolicy(5, float(f"1.{i}"), 1000, 10_000) and o is not shared
    assert route_options({"helicone-retry-enabled": "false"}, default).retry == RetryPolicy(0)
    assert len(options._DEFAULTS) == size


def test_route_options_parse_timeouts_hedge_and_continuation() -> None:
    default = RetryPolicy()
    assert route_options({}, default) is route_options(
        {"x-other": "1"}, default
    )  # shared when nothing is asked
    o = route_options(
        {
            "switchyard-first-byte-timeout-ms": "300",
            "switchyard-hedge-after-ms": "150",
            "switchyard-stream-continuation": "true",
        },
        default,
    )
    assert (o.first_byte_timeout, o.hedge_after, o.continuation) == (0.3, 0.15, True)
    with pytest.raises(GatewayError):
        route_options({"switchyard-timeout-ms": "-5"}, default)
    with pytest.raises(GatewayError):
        route_options({"switchyard-stream-continuation": "yes"}, default)
