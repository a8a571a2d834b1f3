"""pipeline/plan.py: model string → ordered attempts, against the real registry data."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.config import Settings
from switchyard.errors import GatewayError
from switchyard.pipeline.plan import Planner, parse_model_field
from switchyard.providers.registry import Registry, load_registry

CUSTOM = {"my-vllm": {"format": "openai", "base_url": "http://vllm.internal:8000/v1/", "auth": "none"}}


AZURE_ENDPOINT = {"AZURE_OPENAI_ENDPOINT": "https://acme.openai.azure.com"}  # Azure needs its resource too


def registry(keys: list[str], providers: dict[str, Any] | None = None) -> Registry:
    settings = Settings.model_validate({"home": "/tmp/switchyard-test-plan", "providers": providers or {}})
    return load_registry(settings, env={**AZURE_ENDPOINT, **{k: f"key-for-{k.lower()}" for k in keys}})


def planner(*keys: str, providers: dict[str, Any] | None = None) -> Planner:
    return Planner(registry(list(keys), providers))


def sources(p: Planner, model: str) -> list[str]:
    return [a.route for a in p.plan(model)]


def error(p: Planner, model: str) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        p.plan(model)
    assert info.value.status == 400
    assert info.value.param == "model"
    return info.value


ALL_LLAMA_KEYS = (
    "GROQ_API_KEY",
    "DEEPINFRA_API_KEY",
    "NOVITA_API_KEY",
    "NEBIUS_API_KEY",
    "CEREBRAS_API_KEY",
    "OPENROUTER_API_KEY",
)


# -- bare models -----------------------------------------------------------------------------------------


def test_bare_model_only_providers_with_keys_cheapest_first() -> None:
    # llama-3.1-8b-instruct per 1M in+out: novita 0.07, deepinfra 0.08, nebius 0.08, groq 0.13, cerebras 0.20,
    # fireworks 0.20 (no key here), openrouter unpriced (last).
    p = planner(*ALL_LLAMA_KEYS)
    assert sources(p, "llama-3.1-8b-instruct") == [
        "llama-3.1-8b-instruct/novita",
        "llama-3.1-8b-instruct/deepinfra",  # equal price to nebius: same tier, then by id
        "llama-3.1-8b-instruct/nebius",
        "llama-3.1-8b-instruct/groq",
        "llama-3.1-8b-instruct/cerebras",
        "llama-3.1-8b-instruct/openrouter",
    ]


def test_bare_model_skips_providers_without_keys() -> None:
    p = planner("GROQ_API_KEY", "CEREBRAS_API_KEY")
    assert sources(p, "llama-3.1-8b-instruct") == [
        "llama-3.1-8b-instruct/groq",
        "llama-3.1-8b-instruct/cerebras",
    ]


def test_equal_prices_fall_back_to_provider_tier() -> None:
    p = planner("OPENROUTER_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY")
    assert sources(p, "gpt-4o-mini") == ["gpt-4o-mini/openai", "gpt-4o-mini/azure", "gpt-4o-mini/openrouter"]


def test_attempt_carries_the_target() -> None:
    p = planner("ANTHROPIC_API_KEY")
    (a,) = p.plan("claude-sonnet-4")
    assert a.provider.id == "anthropic" and a.model is not None and a.model.id == "claude-sonnet-4"
    assert a.endpoint is not None and a.endpoint.provider == "anthropic"
    assert a.provider_model_id == "claude-sonnet-4-20250514"
    t = a.target
    assert (t.provider, t.model, t.format) == ("anthropic", "claude-sonnet-4-20250514", "anthropic")
    assert t.base_url == "https://api.anthropic.com/v1"
    assert t.api_key == "key-for-anthropic_api_key" and t.auth == "x-api-key"


def test_unknown_bare_model_is_model_not_found() -> None:
    e = error(planner("OPENAI_API_KEY"), "gpt-17-ultra")
    assert e.code == "model_not_found"
    assert "gpt-17-ultra" in e.message
    assert "gpt-17-ultra/openai" in e.message  # tells how to pass an unlisted name through
    assert "/v1/models" in e.message


def test_model_names_are_case_insensitive() -> None:
    assert sources(planner("OPENAI_API_KEY"), "GPT-4o-Mini") == ["gpt-4o-mini/openai"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini/openai"),  # alias
        ("claude-4-sonnet", "claude-sonnet-4/anthropic"),  # alias
        ("claude-sonnet-4-20250514", "claude-sonnet-4/anthropic"),  # provider model id
        ("deepseek-r1", "deepseek-reasoner/deepseek"),  # Helicone back-compat alias
    ],
)
def test_aliases_resolve(name: str, expected: str) -> None:
    p = planner("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPSEEK_API_KEY")
    assert sources(p, name)[0] == expected


def test_alias_with_provider() -> None:
    (a,) = planner("ANTHROPIC_API_KEY").plan("claude-4-sonnet/anthropic")
    assert a.model is not None and a.model.id == "claude-sonnet-4"
    assert a.provider_model_id == "claude-sonnet-4-20250514"


# -- model/provider --------------------------------------------------------------------------------------


def test_model_slash_provider_pins_the_provider() -> None:
    p = planner("OPENAI_API_KEY", "OPENROUTER_API_KEY")
    (a,) = p.plan("gpt-4o-mini/openrouter")
    assert a.source == "gpt-4o-mini/openrouter/ptb"
    assert a.provider_model_id == "openai/gpt-4o-mini"
    assert a.target.base_url == "https://openrouter.ai/api/v1"


@pytest.mark.parametrize(
    ("spec", "provider"),
    [
        ("gemini-2.5-flash/gemini", "google-ai-studio"),
        ("gemini-2.5-flash/google", "google-ai-studio"),
        ("gpt-4o-mini/OpenAI", "openai"),
    ],
)
def test_provider_aliases_and_case(spec: str, provider: str) -> None:
    (a,) = planner("GEMINI_API_KEY", "OPENAI_API_KEY").plan(spec)
    assert a.provider.id == provider


def test_model_provider_key_id_form() -> None:
    parsed = parse_model_field("gpt-4o-mini/openai/key-123", registry([]))
    assert [(s.model, s.provider, s.key_id) for s in parsed.specs] == [("gpt-4o-mini", "openai", "key-123")]


def test_unknown_model_with_builtin_provider_passes_through() -> None:
    (a,) = planner("OPENAI_API_KEY").plan("ft:gpt-4o-mini:acme::abc123/openai")
    assert a.model is None and a.endpoint is None
    assert a.provider_model_id == "ft:gpt-4o-mini:acme::abc123"
    assert a.target.model == "ft:gpt-4o-mini:acme::abc123"
    assert a.source == "ft:gpt-4o-mini:acme::abc123/openai/ptb"


def test_custom_provider_passes_the_name_verbatim() -> None:
    p = planner(providers=CUSTOM)
    (a,) = p.plan("llama3/my-vllm")
    assert a.provider.id == "my-vllm" and a.provider.custom
    assert a.model is None and a.provider_model_id == "llama3"
    assert a.target.model == "llama3"
    assert a.target.base_url == "http://vllm.internal:8000/v1"
    assert a.target.api_key is None and a.target.auth == "none"
    (b,) = p.plan("meta-llama/Meta-Llama-3-8B-Instruct/my-vllm")
    assert b.target.model == "meta-llama/Meta-Llama-3-8B-Instruct"


def test_custom_provider_with_a_known_model_name_still_passes_through() -> None:
    (a,) = planner(providers=CUSTOM).plan("gpt-4o-mini/my-vllm")
    assert a.target.model == "gpt-4o-mini" and a.endpoint is None


def test_openrouter_style_id_is_a_model_name() -> None:
    p = planner("OPENAI_API_KEY", "OPENROUTER_API_KEY")
    parsed = parse_model_field("openai/gpt-4o-mini", p.registry)
    assert [(s.model, s.provider) for s in parsed.specs] == [("openai/gpt-4o-mini", None)]
    assert sources(p, "openai/gpt-4o-mini") == ["gpt-4o-mini/openai", "gpt-4o-mini/openrouter"]
    (a,) = p.plan("openai/gpt-4o-mini/openrouter")
    assert a.source == "gpt-4o-mini/openrouter/ptb" and a.provider_model_id == "openai/gpt-4o-mini"


# -- exclusions and fallback chains ----------------------------------------------------------------------


def test_exclusion_removes_a_provider_from_a_bare_model() -> None:
    p = planner("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENROUTER_API_KEY")
    assert sources(p, "gpt-4o-mini,!openai") == ["gpt-4o-mini/azure", "gpt-4o-mini/openrouter"]
    assert sources(p, "!openai,!azure,gpt-4o-mini") == ["gpt-4o-mini/openrouter"]


def test_exclusion_applies_to_explicit_specs_too() -> None:
    p = planner("OPENAI_API_KEY", "OPENROUTER_API_KEY")
    assert sources(p, "gpt-4o-mini/openai,gpt-4o-mini/openrouter,!openai") == ["gpt-4o-mini/openrouter"]


def test_exclusion_by_alias() -> None:
    p = planner("GEMINI_API_KEY", "OPENROUTER_API_KEY")
    assert sources(p, "gemini-2.5-flash,!gemini") == ["gemini-2.5-flash/openrouter"]


def test_everything_excluded_is_no_providers() -> None:
    e = error(planner("OPENAI_API_KEY"), "gpt-4o-mini/openai,!openai")
    assert e.code == "no_providers"


def test_unknown_provider_in_exclusion() -> None:
    e = error(planner("OPENAI_API_KEY"), "gpt-4o-mini,!nosuchprovider")
    assert "nosuchprovider" in e.message and "openai" in e.message  # lists the valid ones


@pytest.mark.parametrize("field", ["", " , ", "!openai", "gpt-4o-mini,!"])
def test_malformed_fields(field: str) -> None:
    e = error(planner("OPENAI_API_KEY"), field)
    assert e.code == "invalid_model"


def test_fallback_chain_keeps_the_given_order() -> None:
    p = planner("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY")
    # Anthropic first although OpenAI is cheaper: an explicit chain is the caller's order.
    assert sources(p, "claude-sonnet-4/anthropic, gpt-4o-mini/openai") == [
        "claude-sonnet-4/anthropic",
        "gpt-4o-mini/openai",
    ]
    assert sources(p, "gpt-4o/openai,llama-3.1-8b-instruct,gpt-4o-mini") == [
        "gpt-4o/openai",
        "llama-3.1-8b-instruct/groq",
        "gpt-4o-mini/openai",
    ]


def test_chain_skips_specs_without_keys() -> None:
    p = planner("OPENAI_API_KEY")
    assert sources(p, "claude-sonnet-4/anthropic,gpt-4o-mini/openai") == ["gpt-4o-mini/openai"]


# -- provider keys ---------------------------------------------------------------------------------------


def test_missing_key_names_the_env_var() -> None:
    e = error(planner(), "claude-sonnet-4/anthropic")
    assert e.code == "provider_key_missing"
    assert "ANTHROPIC_API_KEY" in e.message and "providers.anthropic.api_key" in e.message


def test_missing_keys_for_a_bare_model_name_every_candidate() -> None:
    e = error(planner(), "gpt-4o-mini")
    assert e.code == "provider_key_missing"
    for var in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENROUTER_API_KEY"):
        assert var in e.message


def test_either_env_var_serves_a_provider_with_several() -> None:
    (a,) = planner("GOOGLE_API_KEY").plan("gemini-2.5-flash/google-ai-studio")
    assert a.target.api_key == "key-for-google_api_key"
    e = error(planner(), "gemini-2.5-flash/google-ai-studio")
    assert "GEMINI_API_KEY or GOOGLE_API_KEY" in e.message


def test_config_key_beats_env_and_keyless_provider_needs_none() -> None:
    p = planner("OPENAI_API_KEY", providers={"openai": {"api_key": "from-config"}})
    (a,) = p.plan("gpt-4o-mini/openai")
    assert a.target.api_key == "from-config"
    (b,) = planner().plan("llama3.2/ollama")  # ollama: auth none
    assert b.target.api_key is None and b.target.model == "llama3.2"


def test_custom_provider_without_a_key_names_the_config_field() -> None:
    p = planner(providers={"acme": {"format": "openai", "base_url": "https://llm.acme.test/v1"}})
    e = error(p, "m1/acme")
    assert e.code == "provider_key_missing" and "providers.acme.api_key" in e.message


# -- cache -----------------------------------------------------------------------------------------------


def test_plan_cache_returns_the_same_list() -> None:
    p = planner("OPENAI_API_KEY", "OPENROUTER_API_KEY")
    first = p.plan("gpt-4o-mini")
    assert p.plan("gpt-4o-mini") is first
    assert p.plan("gpt-4o-mini/openai") is not first


def test_errors_are_not_cached_as_plans() -> None:
    p = planner()
    for _ in range(2):
        with pytest.raises(GatewayError):
            p.plan("gpt-4o-mini")
