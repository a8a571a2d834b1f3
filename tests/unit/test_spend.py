"""What a request may spend: the worst-case bound with `n` and `best_of`, the `n` cap, unpriced attempts under a USD
rule, operator-priced deployments (`models.deployments`), and the policy window cap."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from switchyard.config import ConfigError, Settings, load_settings
from switchyard.errors import GatewayError
from switchyard.observe.cost import Usage, choices, cost_usd, worst_case_usd
from switchyard.pipeline.limits import Limits
from switchyard.pipeline.spend import bounded_attempts, check_choices
from switchyard.providers.registry import Price, RegistryError, load_registry
from switchyard.stores.limiter_memory import MemoryLimiter

REG = load_registry(Settings.model_validate({"home": "/tmp/switchyard-test-spend"}), env={})
MINI = REG.models["gpt-4o-mini"].endpoints["openai"]  # 0.15 in, 0.60 out per 1M; max output 16384
INSTRUCT = REG.models["gpt-3.5-turbo-instruct"].endpoints["openai"]


def _registry(deployments: dict) -> object:
    return load_registry(
        Settings.model_validate(
            {"home": "/tmp/switchyard-test-spend", "models": {"deployments": deployments}}
        ),
        env={},
    )


# -- the bound ------------------------------------------------------------------------------------------------


def test_the_bound_multiplies_the_output_by_n():
    body = {"model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    one = worst_case_usd(MINI, body, 200)
    many = worst_case_usd(MINI, {**body, "n": 128}, 200)
    assert one == pytest.approx((200 * 0.15 + 100 * 0.60) / 1e6)
    assert many == pytest.approx((200 * 0.15 + 128 * 100 * 0.60) / 1e6)  # the prompt is billed once
    # the real cost of 128 full answers stays under the bound
    assert cost_usd(Usage(prompt_tokens=200, completion_tokens=128 * 100), MINI) <= many


def test_best_of_is_what_is_generated_and_billed():
    body = {"prompt": "hi", "max_tokens": 10}
    assert choices({**body, "n": 2, "best_of": 5}) == 5
    assert choices({**body, "n": 3}) == 3
    assert choices(body) == choices({**body, "n": None}) == choices({**body, "n": True}) == 1
    assert worst_case_usd(INSTRUCT, {**body, "best_of": 5}, 50) == pytest.approx(
        (50 * INSTRUCT.price.input + 5 * 10 * INSTRUCT.price.output) / 1e6
    )


def test_n_without_max_tokens_multiplies_the_models_maximum_output():
    body = {"messages": [{"role": "user", "content": "hi"}], "n": 4}
    assert worst_case_usd(MINI, body, 100) == pytest.approx((100 * 0.15 + 4 * MINI.max_output * 0.60) / 1e6)


# -- the n cap ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [{}, {"n": None}, {"n": 1}, {"n": 128}, {"best_of": 0}, {"best_of": 20, "n": 2}]
)
def test_n_within_the_cap_passes(body):
    check_choices(body, 128)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"n": 129}, "n"),
        ({"n": 1_000_000}, "n"),
        ({"n": 0}, "n"),
        ({"n": -1}, "n"),
        ({"n": 2.5}, "n"),
        ({"n": "3"}, "n"),
        ({"n": True}, "n"),
        ({"n": [1]}, "n"),
        ({"best_of": 129}, "best_of"),
        ({"best_of": -1}, "best_of"),
    ],
)
def test_n_outside_the_cap_is_a_400(body, param):
    with pytest.raises(GatewayError) as e:
        check_choices(body, 128)
    assert (e.value.status, e.value.code, e.value.param) == (400, "invalid_n", param)
    assert "from" in e.value.message and "128" in e.value.message


def test_the_cap_is_configurable():
    assert load_settings(env={}).limits.max_n == 128
    with pytest.raises(GatewayError):
        check_choices({"n": 5}, 4)


# -- unpriced attempts under a USD rule -----------------------------------------------------------------------


def _attempt(endpoint, auth="ptb", route="x/openai"):
    return SimpleNamespace(endpoint=endpoint, auth=auth, route=route)


def _ctx(body):
    return SimpleNamespace(body=body, raw_body=b"x" * 100)


BODY = {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def test_an_unpriced_ptb_attempt_alone_is_refused():
    with pytest.raises(GatewayError) as e:
        bounded_attempts(_ctx(BODY), [_attempt(None, route="my-gpt4o-deployment/openai")], False)
    assert (e.value.status, e.value.code, e.value.param) == (400, "price_unknown", "model")
    assert 'models.deployments."my-gpt4o-deployment/openai".price' in e.value.message


def test_a_priced_endpoint_without_an_output_bound_asks_for_max_tokens():
    unbounded = _registry({"open-ended/openai": {"price": {"input": 1, "output": 2}}})
    ep = unbounded.models["open-ended"].endpoints["openai"]
    with pytest.raises(GatewayError) as e:
        bounded_attempts(_ctx({"messages": []}), [_attempt(ep, route="open-ended/openai")], False)
    assert "Set max_tokens" in e.value.message
    _, worst = bounded_attempts(_ctx(BODY), [_attempt(ep)], False)  # with max_tokens it is bounded
    assert worst == pytest.approx((100 * 1 + 10 * 2) / 1e6)


def test_unpriced_ptb_attempts_are_dropped_from_a_chain_with_priced_ones():
    plan = [_attempt(None), _attempt(MINI)]
    kept, worst = bounded_attempts(_ctx(BODY), plan, False)
    assert kept == [plan[1]] and worst == pytest.approx((100 * 0.15 + 10 * 0.60) / 1e6)


def test_byok_and_allow_unpriced_keep_unpriced_attempts():
    byok = [_attempt(None, auth="byok"), _attempt(None)]
    kept, worst = bounded_attempts(_ctx(BODY), byok, False)
    assert kept == [byok[0]] and worst == 0.0
    plan = [_attempt(None)]
    assert bounded_attempts(_ctx(BODY), plan, True) == (plan, 0.0)


# -- models.deployments ---------------------------------------------------------------------------------------


def test_a_configured_deployment_is_a_priced_registry_entry():
    reg = _registry(
        {
            "my-deploy/openai": {
                "price": {"input": 2.5, "output": 10.0, "cached_input": 1.25},
                "context": 128000,
                "max_output": 4096,
            }
        }
    )
    m = reg.model("my-deploy")
    assert m is not None and m.endpoints.keys() == {"openai"}
    ep = m.endpoints["openai"]
    assert (ep.provider_model_id, ep.context, ep.max_output) == ("my-deploy", 128000, 4096)
    assert ep.price == Price(input=2.5, output=10.0, cached_input=1.25)
    assert cost_usd(Usage(prompt_tokens=1000, completion_tokens=100, cached_tokens=400), ep) == pytest.approx(
        (600 * 2.5 + 400 * 1.25 + 100 * 10.0) / 1e6
    )


def test_a_deployment_overrides_a_registry_price_and_adds_providers():
    reg = _registry({"gpt-4o-mini/openai": {"price": {"input": 1, "output": 2}}})
    reg_with_vllm = load_registry(
        Settings.model_validate(
            {
                "home": "/tmp/x",
                "providers": {"my-vllm": {"format": "openai", "base_url": "http://v/v1"}},
                "models": {"deployments": {"gpt-4o-mini/my-vllm": {"price": {"input": 0.1, "output": 0.2}}}},
            }
        ),
        env={},
    )
    assert reg.models["gpt-4o-mini"].endpoints["openai"].price == Price(input=1, output=2)
    assert reg.models["gpt-4o-mini"].endpoints["openai"].max_output == MINI.max_output  # kept
    vllm = reg_with_vllm.models["gpt-4o-mini"].endpoints["my-vllm"]
    assert vllm.price == Price(input=0.1, output=0.2) and vllm.provider_model_id == "gpt-4o-mini"


def test_a_deployment_names_a_known_provider():
    with pytest.raises(RegistryError, match=r"models\.deployments\.x/nowhere: unknown provider nowhere"):
        _registry({"x/nowhere": {"price": {"input": 1, "output": 1}}})


def test_deployment_settings_are_validated(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("models:\n  deployments:\n    no-provider:\n      price: {input: 1, output: 1}\n")
    with pytest.raises(ConfigError, match="must be '<model>/<provider>'"):
        load_settings(str(cfg), env={})
    cfg.write_text("models:\n  deployments:\n    a/openai:\n      price: {input: -1, output: 1}\n")
    with pytest.raises(ConfigError, match="input"):
        load_settings(str(cfg), env={})
    cfg.write_text("models:\n  deployments:\n    a/openai:\n      price: {input: .nan, output: 1}\n")
    with pytest.raises(ConfigError, match="input"):
        load_settings(str(cfg), env={})


# -- policy windows -------------------------------------------------------------------------------------------


def test_policy_windows_longer_than_the_cap_are_refused():
    lim = Limits(MemoryLimiter())
    assert lim._policy("1000;w=2678400;s=user").window == 2678400  # 31 days: the default cap
    with pytest.raises(GatewayError) as e:
        lim._policy("1000;w=31622400;s=user")
    assert e.value.code == "invalid_rate_limit_policy"
    assert "window 'w' must be at most 2678400 seconds (31 days" in e.value.message
    with pytest.raises(GatewayError):
        Limits(MemoryLimiter(), max_policy_window_s=3600)._policy("1;w=3601")


# -- credits use the same bound --------------------------------------------------------------------------------


async def test_a_credit_hold_grows_with_n():
    """Credits reserve `worst_case_usd` per PTB attempt: 128 choices hold 128 times the output bound (they held
    one choice's worth before, so a short balance could be overspent ~128× by one request)."""
    from switchyard.pipeline.credits import Credits

    held: list[float] = []

    class Store:
        async def reserve_credits(self, org_id, rid, amount):
            held.append(amount)
            return True

    credits = Credits(Store())
    ctx = SimpleNamespace(
        raw_body=b"x" * 100,
        principal=SimpleNamespace(org=SimpleNamespace(id="o", credits_enabled=True)),
        helicone=SimpleNamespace(uid="u", request_id="r"),
    )
    attempt = SimpleNamespace(endpoint=MINI, auth="ptb", route="gpt-4o-mini/openai")
    await credits.reserve(ctx, attempt, BODY, 0)
    await credits.reserve(ctx, attempt, {**BODY, "n": 128}, 1)
    assert held[0] == pytest.approx((100 * 0.15 + 10 * 0.60) / 1e6)
    assert held[1] == pytest.approx((100 * 0.15 + 128 * 10 * 0.60) / 1e6)
