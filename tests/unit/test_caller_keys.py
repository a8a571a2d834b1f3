"""pipeline/caller_keys.py: which provider key a Helicone proxy-style request carries, and where it may go."""

from __future__ import annotations

import pytest

from switchyard.config import Settings
from switchyard.errors import GatewayError
from switchyard.pipeline.caller_keys import caller_key, caller_plan
from switchyard.pipeline.keyring import DEFAULT_POLICY
from switchyard.pipeline.plan import Planner
from switchyard.providers.registry import load_registry
from switchyard.security import new_gateway_key

GW = new_gateway_key()


def test_only_beside_helicone_auth():
    assert caller_key({"authorization": "Bearer sk-own-1234567890"}) is None
    assert caller_key({"helicone-auth": f"Bearer {GW}", "authorization": "Bearer sk-own-1234567890"}) == (
        "authorization",
        "sk-own-1234567890",
    )
    assert caller_key({"helicone-auth": f"Bearer {GW}", "x-api-key": "sk-ant-own"}) == (
        "x-api-key",
        "sk-ant-own",
    )
    assert caller_key({"helicone-auth": f"Bearer {GW}"}) is None


def test_a_gateway_key_is_never_taken_for_a_provider_key():
    assert caller_key({"helicone-auth": f"Bearer {GW}", "authorization": f"Bearer {GW}"}) is None
    assert (
        caller_key({"helicone-auth": f"Bearer {GW}", "authorization": f"Bearer {new_gateway_key()}"}) is None
    )
    assert (
        caller_key(
            {
                "helicone-auth": "Bearer x",
                "authorization": "Bearer sk-helicone-ab12cd3-ef45gh6-ij78kl9-mn01op2",
            }
        )
        is None
    )


def planner() -> Planner:
    settings = Settings.model_validate(
        {"home": "/tmp/switchyard-test-caller", "models": {"aliases": {"fast": "gpt-4o-mini"}}}
    )
    reg = load_registry(
        settings, env={"OPENAI_API_KEY": "gateway-openai", "ANTHROPIC_API_KEY": "gateway-anthropic"}
    )
    return Planner(reg, aliases=settings.models.aliases)


def test_one_provider_only_and_never_cached():
    p = planner()
    plan = caller_plan(p, "gpt-4o-mini, claude-sonnet-4", "authorization", "sk-own-1", "org", DEFAULT_POLICY)
    assert [(a.route, a.auth, a.key_id, a.target.api_key) for a in plan] == [
        ("gpt-4o-mini/openai", "byok", "caller", "sk-own-1")
    ]
    again = caller_plan(p, "gpt-4o-mini, claude-sonnet-4", "authorization", "sk-own-2", "org", DEFAULT_POLICY)
    assert again[0].target.api_key == "sk-own-2"  # nothing of the first caller's plan was kept
    assert all(
        a.target.api_key == "gateway-openai" for a in p.plan("gpt-4o-mini") if a.provider.id == "openai"
    )
    claude = caller_plan(p, "claude-sonnet-4", "x-api-key", "sk-ant-own", "org", DEFAULT_POLICY)
    assert [(a.provider.id, a.target.api_key) for a in claude] == [("anthropic", "sk-ant-own")]
    assert (
        caller_plan(p, "fast", "authorization", "k", "org", DEFAULT_POLICY)[0].route == "gpt-4o-mini/openai"
    )


def test_signing_providers_cannot_take_a_bare_key():
    with pytest.raises(GatewayError) as info:
        caller_plan(planner(), "claude-sonnet-4/bedrock", "authorization", "k", "org", DEFAULT_POLICY)
    assert info.value.status == 400 and info.value.code == "caller_key_unsupported"
