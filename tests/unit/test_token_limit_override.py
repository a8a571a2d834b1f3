"""Helicone-Token-Limit-Exception-Handler (pipeline/token_limit.py) and Helicone-Model-Override
(pipeline/model_override.py): pure logic."""

from __future__ import annotations

import pytest

from switchyard.config import Settings
from switchyard.errors import GatewayError
from switchyard.observe.cost import Usage, cost_usd
from switchyard.pipeline.model_override import model_override, priced_endpoint
from switchyard.pipeline.token_limit import estimate_tokens, fit, handler_of, input_limit
from switchyard.providers.registry import load_registry


def body(*texts: str, **extra):
    return {"model": "m", "messages": [{"role": "user", "content": t} for t in texts], **extra}


def test_handler_values_and_a_typo_is_a_400():
    assert handler_of({}) is None
    assert handler_of({"helicone-token-limit-exception-handler": " Middle-Out "}) == "middle-out"
    with pytest.raises(GatewayError) as info:
        handler_of({"helicone-token-limit-exception-handler": "truncat"})
    assert info.value.status == 400 and "truncate, middle-out, fallback" in info.value.message


def test_limit_reserves_the_requested_output_or_ten_percent():
    assert input_limit(body(max_tokens=300), 1000) == 700
    assert input_limit(body(max_completion_tokens=200, max_tokens=300), 1000) == 800
    assert input_limit(body(), 1000) == 900
    assert estimate_tokens(body("x" * 400, "y" * 40)) == 110


def test_under_the_limit_nothing_changes():
    b = body("hello world")
    assert fit("truncate", b, "m", 1000) == (b, "m")
    assert fit("middle-out", b, "m", None) == (b, "m")


def test_truncate_keeps_the_beginning_of_every_message_and_fits():
    b = body("A" * 3000 + "tail", "B  \n\n " * 10 + "C" * 1000)
    out, model = fit("truncate", b, "m", 1000)  # limit 900 tokens = 3600 chars
    assert model == "m" and b["messages"][0]["content"].endswith("tail")  # the caller's dict is untouched
    first, second = (m["content"] for m in out["messages"])
    assert first.startswith("AAA") and not first.endswith("tail") and second.startswith("B B B")
    assert estimate_tokens(out) <= 900


def test_middle_out_keeps_beginning_and_end():
    out, _ = fit("middle-out", body("start-" + "x" * 8000 + "-end"), "m", 1000)
    text = out["messages"][0]["content"]
    assert text.startswith("start-") and text.endswith("-end") and estimate_tokens(out) <= 900


def test_text_parts_and_anthropic_system_are_cut_too():
    b = {
        "system": "S" * 4000,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "T" * 4000}]}],
    }
    out, _ = fit("truncate", b, "m", 1000)
    assert len(out["system"]) < 4000 and len(out["messages"][0]["content"][0]["text"]) < 4000
    assert estimate_tokens(out) <= 900


def test_fallback_picks_the_second_model_only_when_over():
    big, small = body("x" * 8000), body("hi")
    assert fit("fallback", big, "gpt-3.5-turbo, gpt-4o", 1000)[1] == "gpt-4o"
    assert fit("fallback", small, "gpt-3.5-turbo, gpt-4o", 1000)[1] == "gpt-3.5-turbo"
    assert fit("fallback", big, "gpt-3.5-turbo", 1000)[1] == "gpt-3.5-turbo"  # nothing to fall back to
    assert fit("fallback", big, "a, b", None)[1] == "a, b"  # no known context: left alone


def registry():
    return load_registry(
        Settings.model_validate({"home": "/tmp/switchyard-test-override"}), env={"OPENAI_API_KEY": "k"}
    )


def test_override_prices_an_unpriced_attempt_but_never_undercuts_a_priced_one():
    reg = registry()
    ov = model_override({"helicone-model-override": "gpt-4o-mini"}, reg)
    assert ov is not None and ov.name == "gpt-4o-mini" and ov.context == 128000
    u = Usage(prompt_tokens=1_000_000, completion_tokens=0)
    # a custom deployment name the registry lacks: priced as the override on the same provider
    assert cost_usd(u, priced_endpoint(ov, "openai", None)) == pytest.approx(0.15)
    # an attempt the registry prices (gpt-4o) keeps its own price: the header cannot lower a bill
    gpt4o = reg.model("gpt-4o").endpoints["openai"]
    assert cost_usd(u, priced_endpoint(ov, "openai", gpt4o)) == pytest.approx(2.5)
    # a provider the override is not on: its cheapest priced endpoint
    assert cost_usd(u, priced_endpoint(ov, "my-vllm", None)) == pytest.approx(0.15)
    unknown = model_override({"helicone-model-override": "my-finetune"}, reg)
    assert unknown is not None and unknown.model is None and priced_endpoint(unknown, "openai", None) is None
    assert model_override({}, reg) is None
