"""Per-model parameter rules (providers/param_rules.py) with the registry's own profiles: one test per rule and
per wire format, plus the loader wiring (which endpoints carry which rules)."""

from __future__ import annotations

import copy

import pytest

from switchyard.config import Settings
from switchyard.providers.param_rules import fit
from switchyard.providers.registry import load_registry


@pytest.fixture(scope="module")
def registry():
    return load_registry(Settings(), env={})


def rules(registry, model: str, provider: str):
    ep = registry.models[model].endpoints[provider]
    return ep.rules, ep.max_output


def run(registry, model, provider, body, kind="chat"):
    r, cap = rules(registry, model, provider)
    original = copy.deepcopy(body)
    out, notes = fit(body, kind, r, cap)
    assert body == original, "fit must not mutate the caller's body"
    return out, notes


def test_reasoning_model_renames_max_tokens(registry):
    out, notes = run(registry, "gpt-5-mini", "openai", {"model": "m", "max_tokens": 256})
    assert out == {"model": "m", "max_completion_tokens": 256}
    assert notes == ["max_tokens→max_completion_tokens"]


def test_rename_keeps_an_explicit_max_completion_tokens(registry):
    out, notes = run(registry, "o3", "azure", {"max_tokens": 256, "max_completion_tokens": 1000})
    assert out == {"max_completion_tokens": 1000}
    assert notes == ["max_tokens dropped (max_completion_tokens given)"]


def test_llamaindex_defaults_to_an_o_series_model(registry):
    """LlamaIndex's Helicone LLM sends temperature=0.1 and max_tokens=256 by default."""
    out, notes = run(registry, "o4-mini", "openai", {"temperature": 0.1, "max_tokens": 256, "top_p": 1})
    assert out == {"max_completion_tokens": 256, "top_p": 1}  # the default value is accepted, so kept
    assert notes == [
        "max_tokens→max_completion_tokens",
        "temperature dropped (temperature=0.1; the model takes only 1)",
    ]


def test_reasoning_model_drops_unsupported_and_non_default(registry):
    body = {
        "logit_bias": {"1": 2},
        "top_logprobs": 3,
        "presence_penalty": 0.5,
        "frequency_penalty": 0,
        "logprobs": True,
    }
    out, notes = run(registry, "gpt-5", "openai", body)
    assert out == {"frequency_penalty": 0}
    assert len(notes) == 4


def test_gpt_5_1_takes_sampling_at_effort_none(registry):
    out, notes = run(registry, "gpt-5.1", "openai", {"temperature": 0.2})  # default effort: none
    assert out == {"temperature": 0.2} and notes == []
    out, notes = run(registry, "gpt-5.1", "openai", {"temperature": 0.2, "reasoning_effort": "low"})
    assert out == {"reasoning_effort": "low"} and notes


def test_non_reasoning_models_keep_their_parameters(registry):
    body = {"temperature": 0.1, "max_tokens": 256}
    out, notes = run(registry, "gpt-4o-mini", "openai", body)
    assert out is body and notes == []


def test_openrouter_endpoints_carry_no_reasoning_rules(registry):
    out, notes = run(registry, "gpt-5-mini", "openrouter", {"temperature": 0.1, "max_tokens": 256})
    assert out == {"temperature": 0.1, "max_tokens": 256} and notes == []


def test_responses_format(registry):
    body = {"temperature": 0.3, "max_output_tokens": 500000}
    out, notes = run(registry, "gpt-5-mini", "openai", body, kind="responses")
    assert out == {"max_output_tokens": 128000}
    assert notes == [
        "temperature dropped (temperature=0.3; the model takes only 1)",
        "max_output_tokens clamped 500000→128000 (the model's maximum output)",
    ]


def test_claude_temperature_range(registry):
    out, notes = run(registry, "claude-sonnet-4", "anthropic", {"temperature": 1.5, "top_p": 0.9})
    assert out == {"temperature": 1, "top_p": 0.9}
    assert notes == ["temperature 1.5→1 (range 0..1)"]


def test_claude_4_5_takes_temperature_or_top_p(registry):
    out, notes = run(
        registry, "claude-4.5-sonnet", "bedrock", {"temperature": 0.5, "top_p": 0.9}, kind="messages"
    )
    assert out == {"temperature": 0.5}
    assert notes == ["top_p dropped (the model takes temperature or top_p, not both)"]
    out, notes = run(registry, "claude-4.5-sonnet", "anthropic", {"top_p": 0.9}, kind="messages")
    assert out == {"top_p": 0.9} and notes == []


def test_claude_max_tokens_clamped_natively(registry):
    out, notes = run(registry, "claude-sonnet-4", "anthropic", {"max_tokens": 128000}, kind="messages")
    assert out == {"max_tokens": 64000}
    assert notes == ["max_tokens clamped 128000→64000 (the model's maximum output)"]


def test_claude_clamp_shrinks_a_thinking_budget(registry):
    body = {"max_tokens": 128000, "thinking": {"type": "enabled", "budget_tokens": 100000}}
    out, notes = run(registry, "claude-sonnet-4", "anthropic", body, kind="messages")
    assert out["max_tokens"] == 64000 and out["thinking"]["budget_tokens"] == 64000 - 1024
    assert notes[-1] == "thinking.budget_tokens 100000→62976"


def test_chat_clamps_both_token_fields_and_legacy_completions(registry):
    out, notes = run(registry, "gpt-4o", "openai", {"max_completion_tokens": 20000, "max_tokens": 17000})
    assert out == {"max_completion_tokens": 16384, "max_tokens": 16384} and len(notes) == 2
    out, _ = run(registry, "gpt-3.5-turbo-instruct", "openai", {"max_tokens": 9000}, kind="completions")
    assert out == {"max_tokens": 4096}


def test_host_ceiling_beats_the_models(registry):
    """claude-4.6-sonnet: 128k on Anthropic's API, 64k on Bedrock (per-endpoint max_output)."""
    out, _ = run(registry, "claude-4.6-sonnet", "anthropic", {"max_tokens": 100000}, kind="messages")
    assert out == {"max_tokens": 100000}
    out, _ = run(registry, "claude-4.6-sonnet", "bedrock", {"max_tokens": 100000}, kind="messages")
    assert out == {"max_tokens": 64000}


def test_booleans_and_nulls_are_not_numbers():
    from switchyard.providers.param_rules import ParamRules

    r = ParamRules("x", ranges={"temperature": (0.0, 1.0)})
    body = {"temperature": None, "max_tokens": True}
    assert fit(body, "chat", r, 10) == (body, [])


def test_structured_output_capability_per_endpoint(registry):
    m = registry.models
    assert m["claude-4.5-haiku"].endpoints["anthropic"].structured_output == "native"
    assert m["claude-4.5-haiku"].endpoints["bedrock"].structured_output == "native"
    assert m["claude-4.5-haiku"].endpoints["vertex"].structured_output == "tool"
    assert m["claude-sonnet-4"].endpoints["anthropic"].structured_output is None  # the forced tool
    assert m["claude-opus-4-1"].endpoints["bedrock"].structured_output is None


def test_plan_takes_the_structured_output_capability_and_operator_config_wins():
    from switchyard.pipeline.plan import Planner

    settings = Settings(providers={"anthropic": {"api_key": "k"}})
    planner = Planner(load_registry(settings, env={}))
    newer = planner.plan("claude-4.5-haiku/anthropic")[0].target.config
    older = planner.plan("claude-sonnet-4/anthropic")[0].target.config
    assert newer["json_schema_mode"] == "native" and "json_schema_mode" not in older
    assert newer["max_output"] == 64000
    forced = Settings(providers={"anthropic": {"api_key": "k", "config": {"json_schema_mode": "tool"}}})
    config = Planner(load_registry(forced, env={})).plan("claude-4.5-haiku/anthropic")[0].target.config
    assert config["json_schema_mode"] == "tool"
