"""observe/cost.py: usage normalisation and cost, priced from the real registry (USD per 1M tokens)."""

from __future__ import annotations

import pytest

from switchyard.config import Settings
from switchyard.observe.cost import Usage, cost_usd, price_for, read_usage
from switchyard.providers.registry import Endpoint, Price, load_registry

REG = load_registry(Settings.model_validate({"home": "/tmp/switchyard-test-cost"}), env={})


def endpoint(model: str, provider: str) -> Endpoint:
    return REG.models[model].endpoints[provider]


MINI = endpoint("gpt-4o-mini", "openai")  # 0.15 in, 0.60 out, 0.075 cached
SONNET = endpoint(
    "claude-sonnet-4", "anthropic"
)  # 3 in, 15 out, 0.30 cached, 3.75 write; >200k: 6/22.5/0.60/7.50


def test_registry_prices_used_below() -> None:
    assert MINI.price == Price(input=0.15, output=0.60, cached_input=0.075)
    assert SONNET.price is not None and SONNET.price.cache_write == 3.75
    assert [t.above for t in SONNET.tiers] == [200_000]


# -- read_usage ------------------------------------------------------------------------------------------


def test_read_openai_usage_with_details() -> None:
    u = read_usage(
        {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 128, "accepted_prediction_tokens": 0},
        }
    )
    assert u == Usage(
        prompt_tokens=1200,
        completion_tokens=300,
        total_tokens=1500,
        cached_tokens=1024,
        cache_write_tokens=0,
        reasoning_tokens=128,
    )


def test_read_input_output_usage() -> None:
    u = read_usage(
        {
            "input_tokens": 50,
            "output_tokens": 20,
            "input_tokens_details": {"cached_tokens": 10},
            "output_tokens_details": {"reasoning_tokens": 5},
        }
    )
    assert u == Usage(
        prompt_tokens=50, completion_tokens=20, total_tokens=70, cached_tokens=10, reasoning_tokens=5
    )


def test_read_cache_write_tokens() -> None:
    u = read_usage(
        {
            "prompt_tokens": 100,
            "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 30},
        }
    )
    assert u is not None and (u.cached_tokens, u.cache_write_tokens) == (20, 30)
    u = read_usage(
        {"prompt_tokens": 100, "completion_tokens": 1, "prompt_tokens_details": {"cache_creation_tokens": 40}}
    )
    assert u is not None and u.cache_write_tokens == 40


def test_total_is_computed_when_missing() -> None:
    u = read_usage({"prompt_tokens": 7, "completion_tokens": 3})
    assert u is not None and u.total_tokens == 10


@pytest.mark.parametrize("bad", [None, [], "12", 3])
def test_not_a_usage_object(bad: object) -> None:
    assert read_usage(bad) is None


def test_garbage_counts_read_as_zero() -> None:
    u = read_usage(
        {
            "prompt_tokens": None,
            "completion_tokens": -4,
            "total_tokens": "9",
            "prompt_tokens_details": None,
            "completion_tokens_details": "x",
        }
    )
    assert u == Usage()


def test_empty_usage() -> None:
    assert read_usage({}) == Usage()


# -- cost_usd --------------------------------------------------------------------------------------------


def test_plain_cost() -> None:
    # 1000 * 0.15 + 500 * 0.60 = 150 + 300 = 450 per 1M
    assert cost_usd(Usage(prompt_tokens=1000, completion_tokens=500), MINI) == pytest.approx(0.00045)


def test_cached_input_priced_at_cached_rate() -> None:
    # fresh 800 * 0.15 + cached 200 * 0.075 + out 500 * 0.60 = 120 + 15 + 300 = 435 per 1M
    u = Usage(prompt_tokens=1000, completion_tokens=500, cached_tokens=200)
    assert cost_usd(u, MINI) == pytest.approx(0.000435)


def test_cache_writes_priced_at_write_rate() -> None:
    # fresh 5000 * 3 + cached 2000 * 0.30 + written 3000 * 3.75 + out 1000 * 15 = 15000 + 600 + 11250 + 15000
    u = Usage(prompt_tokens=10_000, completion_tokens=1000, cached_tokens=2000, cache_write_tokens=3000)
    assert cost_usd(u, SONNET) == pytest.approx(0.04185)


def test_cached_without_a_cached_price_costs_the_input_rate() -> None:
    ep = endpoint("gpt-4o-mini", "openrouter")  # 0.15 / 0.60, no cached_input
    u = Usage(prompt_tokens=1000, completion_tokens=0, cached_tokens=600)
    assert cost_usd(u, ep) == pytest.approx(0.00015)


def test_cache_counts_are_clamped_to_the_prompt() -> None:
    # 100 prompt tokens, all cached (the 500 reported are impossible): 100 * 0.075
    u = Usage(prompt_tokens=100, cached_tokens=500, cache_write_tokens=50)
    assert cost_usd(u, MINI) == pytest.approx(0.0000075)


def test_tier_applies_only_above_the_threshold() -> None:
    at = Usage(prompt_tokens=200_000, completion_tokens=1000)  # 200000 * 3 + 1000 * 15
    assert cost_usd(at, SONNET) == pytest.approx(0.615)
    above = Usage(prompt_tokens=250_000, completion_tokens=1000)  # 250000 * 6 + 1000 * 22.5
    assert cost_usd(above, SONNET) == pytest.approx(1.5225)
    assert price_for(SONNET, 200_000) == SONNET.price
    assert price_for(SONNET, 200_001) == SONNET.tiers[0]


def test_tier_has_its_own_cache_prices() -> None:
    # fresh 200000 * 6 + cached 100000 * 0.60 + out 2000 * 22.5 = 1,200,000 + 60,000 + 45,000
    u = Usage(prompt_tokens=300_000, completion_tokens=2000, cached_tokens=100_000)
    assert cost_usd(u, SONNET) == pytest.approx(1.305)


def test_several_tiers_pick_the_highest_exceeded() -> None:
    ep = Endpoint(
        model="m",
        provider="p",
        provider_model_id="m",
        price=Price(1.0, 2.0),
        tiers=(Price(3.0, 4.0, above=1000), Price(5.0, 6.0, above=5000)),
    )
    assert cost_usd(Usage(prompt_tokens=1000), ep) == pytest.approx(0.001)
    assert cost_usd(Usage(prompt_tokens=2000), ep) == pytest.approx(0.006)
    assert cost_usd(Usage(prompt_tokens=6000, completion_tokens=10), ep) == pytest.approx(0.03006)


def test_unknown_price_is_none_never_zero() -> None:
    unpriced = endpoint("text-embedding-004", "google-ai-studio")
    assert unpriced.price is None
    assert cost_usd(Usage(prompt_tokens=100), unpriced) is None
    assert cost_usd(Usage(prompt_tokens=100), None) is None
    assert cost_usd(Usage(prompt_tokens=100), endpoint("gpt-oss-120b", "openrouter")) is None


def test_zero_usage_costs_zero() -> None:
    assert cost_usd(Usage(), MINI) == 0


def test_read_then_price_end_to_end() -> None:
    u = read_usage({"prompt_tokens": 14, "completion_tokens": 30, "total_tokens": 44})
    assert u is not None
    # gpt-4o: 14 * 2.50 + 30 * 10 = 35 + 300 = 335 per 1M
    assert cost_usd(u, endpoint("gpt-4o", "openai")) == pytest.approx(0.000335)
