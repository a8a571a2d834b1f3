"""The model names the seeds and their clients send, planned against the real registry (pipeline/plan.py).

LiteLLM's Helicone route (`helicone/gpt-4`, its main example), the chat reference's `claude-3-opus-20240229`, the
Helicone fallback chain `gpt-4o/openai,gpt-4o/azure,gpt-4o/deepinfra`, and Helicone's registry names next to the
provider-native ids they stand for.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from switchyard.config import Settings
from switchyard.errors import GatewayError
from switchyard.pipeline.keyring import Keyring, OrgKey
from switchyard.pipeline.plan import Planner
from switchyard.pipeline.spend import bounded_attempts
from switchyard.providers.registry import Price, load_registry

KEYS = {
    "OPENAI_API_KEY": "sk-openai",
    "ANTHROPIC_API_KEY": "sk-ant",
    "AZURE_OPENAI_API_KEY": "az",
    "AZURE_OPENAI_ENDPOINT": "https://acme.openai.azure.com",
    "DEEPINFRA_API_KEY": "di",
}
REG = load_registry(Settings.model_validate({"home": "/tmp/switchyard-test-seed-names"}), env=KEYS)
PLANNER = Planner(REG)


def first(model: str) -> tuple[str, str, str | None, Price | None]:
    a = PLANNER.plan(model)[0]
    return (
        a.provider.id,
        a.provider_model_id,
        a.model.id if a.model else None,
        a.endpoint.price if a.endpoint else None,
    )


@pytest.mark.parametrize("name", ["helicone/gpt-4", "gpt-4", "HELICONE/gpt-4", "gpt-4-0613"])
def test_litellm_helicone_route_gpt_4(name: str) -> None:
    # LiteLLM strips its `helicone/` provider prefix and sends `gpt-4`; a client that forwards the whole name works too
    provider, upstream, model, price = first(name)
    assert (provider, upstream, model) == ("openai", "gpt-4", "gpt-4")
    assert price == Price(input=30.0, output=60.0)


def test_litellm_helicone_fallback_example() -> None:
    # LiteLLM's docs: model="helicone/gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic"
    plan = PLANNER.plan("helicone/gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic")
    assert [(a.route, a.provider_model_id) for a in plan] == [
        ("gpt-4o-mini/openai", "gpt-4o-mini"),
        ("claude-3.5-sonnet-v2/anthropic", "claude-3-5-sonnet-20241022"),
    ]
    assert all(a.endpoint is not None and a.endpoint.price is not None for a in plan)
    assert first("helicone/claude-3.5-haiku/anthropic")[:3] == (
        "anthropic",
        "claude-3-5-haiku-20241022",
        "claude-3.5-haiku",
    )


def test_chat_reference_example_claude_3_opus() -> None:
    provider, upstream, model, price = first("claude-3-opus-20240229")
    assert (provider, upstream, model) == ("anthropic", "claude-3-opus-20240229", "claude-3-opus")
    assert price is not None and (price.input, price.output, price.cached_input) == (15.0, 75.0, 1.5)
    assert first("claude-3-opus")[:2] == ("anthropic", "claude-3-opus-20240229")


@pytest.mark.parametrize(
    ("helicone_name", "native_id", "provider"),
    [
        ("claude-3.5-sonnet-v2", "claude-3-5-sonnet-20241022", "anthropic"),
        (
            "claude-3.5-sonnet",
            "claude-3-5-sonnet-20241022",
            "anthropic",
        ),  # Helicone's backward-compat mapping
        ("claude-sonnet-4", "claude-sonnet-4-20250514", "anthropic"),
        ("claude-4.5-sonnet", "claude-sonnet-4-5-20250929", "anthropic"),
        ("claude-3.7-sonnet", "claude-3-7-sonnet-20250219", "anthropic"),
        ("claude-3.5-haiku", "claude-3-5-haiku-20241022", "anthropic"),
        ("gpt-4o", "gpt-4o", "openai"),
        ("o3", "o3-2025-04-16", "openai"),
    ],
)
def test_helicone_names_and_native_ids_are_one_model(
    helicone_name: str, native_id: str, provider: str
) -> None:
    by_name = first(f"{helicone_name}/{provider}")
    by_id = first(f"{native_id}/{provider}")
    assert by_name == by_id
    assert by_name[1] == native_id and by_name[3] is not None


def test_helicone_fallback_chain_with_deepinfra() -> None:
    # Helicone's provider-routing page: "Try OpenAI, fallback to Azure, then DeepInfra"
    plan = PLANNER.plan("gpt-4o/openai,gpt-4o/azure,gpt-4o/deepinfra")
    assert [(a.route, a.provider_model_id, a.group) for a in plan] == [
        ("gpt-4o/openai", "gpt-4o", 0),
        ("gpt-4o/azure", "gpt-4o", 1),
        ("gpt-4o/deepinfra", "gpt-4o", 2),
    ]
    assert plan[0].endpoint and plan[0].endpoint.price == Price(input=2.5, output=10.0, cached_input=1.25)
    assert plan[1].endpoint and plan[1].endpoint.price is not None
    # DeepInfra hosts open-weight models only: no source lists gpt-4o there, so the name is passed through
    # verbatim, unpriced (no price is invented).
    assert plan[2].model is None and plan[2].endpoint is None
    assert plan[2].target.base_url == "https://api.deepinfra.com/v1/openai"


def test_unpriced_chain_item_is_dropped_under_a_usd_rule_but_kept_for_byok() -> None:
    ctx = SimpleNamespace(body={"max_tokens": 100, "messages": []}, raw_body=b"{}")
    plan = PLANNER.plan("gpt-4o/openai,gpt-4o/azure,gpt-4o/deepinfra")
    kept, worst = bounded_attempts(ctx, plan, allow_unpriced=False)
    assert [a.provider.id for a in kept] == ["openai", "azure"] and worst > 0
    with pytest.raises(GatewayError) as info:
        bounded_attempts(ctx, PLANNER.plan("gpt-4o/deepinfra"), allow_unpriced=False)
    assert info.value.code == "price_unknown"
    ring = Keyring(
        org_id="org1",
        version=1,
        by_provider={
            "deepinfra": (
                OrgKey(id="di-1", provider="deepinfra", api_key="org-di-key", base_url=None, config={}),
            )
        },
    )
    byok = PLANNER.plan("gpt-4o/deepinfra", ring)
    assert [(a.auth, a.provider_model_id) for a in bounded_attempts(ctx, byok, allow_unpriced=False)[0]] == [
        ("byok", "gpt-4o")
    ]


# Model ids of Helicone's registry (Helicone/helicone packages/cost/models/authors/*: directory and model names
# read for this list), current and legacy: each must name a registry model.
HELICONE_IDS = """
claude-3-haiku-20240307 claude-3.5-haiku claude-3.5-sonnet-v2 claude-3.7-sonnet claude-sonnet-4 claude-opus-4
claude-opus-4-1 claude-4.5-sonnet claude-4.5-haiku claude-4.5-opus claude-opus-4-5 claude-4.6-sonnet claude-4.6-opus
claude-4.7-opus claude-4.8-opus claude-5-opus claude-5-sonnet claude-5-fable claude-5.1-fable
gpt-4 gpt-4o gpt-4o-mini chatgpt-4o-latest gpt-4o-search-preview-2025-03-11 gpt-4o-mini-search-preview-2025-03-11
gpt-4.1 gpt-4.1-mini gpt-4.1-nano gpt-5 gpt-5-mini gpt-5-nano gpt-5-chat-latest gpt-5.1 gpt-5.2 gpt-5.3-codex
gpt-5.4 gpt-5.5 o1 o3 o3-pro o3-mini o4-mini gpt-oss-120b gpt-oss-20b
grok-code-fast-1 grok-4 grok-3 grok-3-mini
gemini-2.5-pro gemini-2.5-flash gemini-2.5-flash-lite gemini-3-flash-preview gemini-3.1-pro-preview gemini-3.1-pro
gemini-3.1-flash-lite gemini-3.1-flash-lite-preview
deepseek-v3 deepseek-reasoner kimi-k2-0905 llama-3.1-8b-instruct llama-3.3-70b-instruct llama-4-scout
llama-4-maverick qwen3-32b qwen3-coder sonar sonar-pro sonar-reasoning-pro sonar-deep-research
""".split()  # noqa: SIM905 (a paragraph of names reads better than a 70-item list literal)


@pytest.mark.parametrize("name", HELICONE_IDS)
def test_helicone_registry_ids_resolve(name: str) -> None:
    info = REG.model(name)
    assert info is not None, f"{name} is not a registry model"
    assert any(ep.price is not None for ep in info.endpoints.values()), f"{name} has no priced endpoint"


@pytest.mark.parametrize(
    ("helicone_id", "native_id"),
    [
        ("claude-4.7-opus", "claude-opus-4-7"),
        ("claude-5-sonnet", "claude-sonnet-5"),
        ("claude-5.1-fable", "claude-fable-5-1"),
        ("claude-4.5-sonnet", "claude-sonnet-4-5"),
    ],
)
def test_new_claude_models_take_helicone_ids_with_native_aliases(helicone_id: str, native_id: str) -> None:
    info = REG.model(helicone_id)
    assert info is not None and info.id == helicone_id
    assert REG.model(native_id) is info
    assert info.endpoints["anthropic"].provider_model_id.startswith(native_id)
