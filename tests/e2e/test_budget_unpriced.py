"""USD budgets against models the registry does not price, `n`, and limiter memory, through a real gateway.

- A key with a USD budget naming an unpriced model on the gateway's own key: 400 `price_unknown`, never forwarded
  (it used to run unlimited with cost null).
- The operator prices a deployment in `models.deployments`: calls run, are logged with their cost, count against
  the budget and are refused once it is spent.
- `limits.allow_unpriced: true`: unpriced calls are admitted again (counted as $0).
- The organisation's own key (BYOK) for an unpriced model: admitted under the budget (its own money).
- `n` above `limits.max_n` is a 400 `invalid_n`, in each caller's shape, before anything is forwarded; the budget
  reservation grows with `n`.
- A Helicone-RateLimit-Policy window above `limits.max_policy_window_seconds` is a 400; per-user counters are
  capped per key, and /metrics shows the live counters and evictions.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from support.gateway import GatewayProcess, default_config, free_port
from support.mock_upstream import MockUpstream
from support.services import drop_prefix, fresh_prefix, require_redis

ADMIN_KEY = "admin-e2e-budget-unpriced-0123456789"
DEPLOY_PRICE = {"input": 2.5, "output": 10.0, "cached_input": 1.25}
CALL_USD = (14 * 2.5 + 37 * 10.0) / 1e6  # the recorded OpenAI answer: 14 prompt, 37 completion tokens


def _gateway(upstream: MockUpstream, home: Any, **limits: Any) -> GatewayProcess:
    cfg = default_config(
        upstream.url,
        free_port(),
        admin={"key": ADMIN_KEY},
        models={
            "deployments": {
                "priced-deploy/openai": {"price": DEPLOY_PRICE, "context": 128000, "max_output": 16384}
            }
        },
        limits={"max_segment_counters": 16, **limits},
    )
    gw = GatewayProcess(home, cfg)
    gw.prepare()
    gw.start()
    return gw


@pytest.fixture(scope="module")
def gw(upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    g = _gateway(upstream, tmp_path_factory.mktemp("budget-unpriced"))
    yield g
    g.stop()


@pytest.fixture(scope="module")
def lenient(upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    g = _gateway(upstream, tmp_path_factory.mktemp("budget-unpriced-allowed"), allow_unpriced=True, max_n=4)
    yield g
    g.stop()


def budget_key(gw: GatewayProcess, usd: float = 0.001, byok_base: str | None = None) -> str:
    org = gw.admin("POST", "/orgs", {"name": f"budget-{uuid.uuid4().hex[:10]}"})
    if byok_base is not None:
        gw.admin(
            "POST",
            f"/orgs/{org['id']}/provider-keys",
            {
                "provider": "openai",
                "key": "sk-org-own-openai-key-0009",
                "id": "own",
                "config": {"base_url": byok_base},
            },
        )
    limit = {"metric": "usd", "limit": usd, "window_seconds": 3600}
    return gw.admin("POST", f"/orgs/{org['id']}/keys", {"limits": [limit]})["key"]


def chat(
    gw: GatewayProcess, key: str, model: str, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    payload = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        json=payload,
        headers={**gw.headers(key), **(headers or {})},
        timeout=30,
    )


def seen_marker(upstream: MockUpstream, marker: str) -> bool:
    return any(marker in str(s.body) for s in list(upstream.seen))


def metric(gw: GatewayProcess, name: str, labels: str) -> float:
    text = httpx.get(f"{gw.url}/metrics", timeout=10).text
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    assert m, f"{name}{{{labels}}} not in /metrics"
    return float(m.group(1))


# -- unpriced models under a USD budget ---------------------------------------------------------------------------


def test_an_unpriced_model_on_the_gateways_key_is_refused_under_a_usd_budget(gw, upstream):
    key = budget_key(gw)
    marker = f"unpriced-{uuid.uuid4().hex[:10]}"
    r = chat(gw, key, "my-gpt4o-deployment/openai", messages=[{"role": "user", "content": marker}])
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "price_unknown" and err["param"] == "model"
    assert "does not know the price of my-gpt4o-deployment/openai" in err["message"]
    assert 'models.deployments."my-gpt4o-deployment/openai".price' in err["message"]
    assert not seen_marker(upstream, marker), "a refused call never reaches the provider"
    assert gw.wait_row(r.headers["helicone-id"], key=key)["response_status"] == 400  # refusals are logged
    # twenty in a row: every one refused (the finding: 20 × 200 with cost null)
    assert {chat(gw, key, "my-gpt4o-deployment/openai").status_code for _ in range(20)} == {400}
    # a USD rate limit from the caller's own header policy is a USD rule as well
    plain = gw.new_key("budget-unpriced-plain")
    assert chat(gw, plain, "my-gpt4o-deployment/openai").status_code == 200  # no USD rule: unchanged
    r = chat(gw, plain, "my-gpt4o-deployment/openai", {"Helicone-RateLimit-Policy": "100;w=3600;u=cents"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "price_unknown"


def test_the_anthropic_caller_sees_the_refusal_in_its_own_shape(gw):
    key = budget_key(gw)
    r = httpx.post(
        f"{gw.url}/v1/messages",
        timeout=30,
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        json={
            "model": "my-gpt4o-deployment/openai",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "does not know the price" in body["error"]["message"]


def test_a_priced_fallback_still_runs_when_an_unpriced_one_is_dropped(gw, upstream):
    key = budget_key(gw, usd=1.0)
    marker = f"fallback-{uuid.uuid4().hex[:10]}"
    r = chat(
        gw, key, "my-gpt4o-deployment/openai,gpt-4o-mini", messages=[{"role": "user", "content": marker}]
    )
    assert r.status_code == 200, r.text
    sent = [s.body["model"] for s in list(upstream.seen) if marker in str(s.body)]
    assert sent == ["gpt-4o-mini"]  # the unpriced one was never tried
    assert gw.wait_row(r.headers["helicone-id"], key=key)["costUSD"] > 0


def test_a_configured_deployment_price_is_charged_counted_and_refused_once_spent(gw):
    """$0.001 per hour at $0.000405 a call: three calls are admitted (the third takes the spend over by less than
    one call, as budgets promise), the fourth is refused; every answer is logged with its cost."""
    key = budget_key(gw, usd=0.001)
    statuses, ids = [], []
    for _ in range(5):
        r = chat(gw, key, "priced-deploy/openai")
        statuses.append(r.status_code)
        ids.append(r.headers["helicone-id"])
        if r.status_code != 200:
            break
        time.sleep(0.05)  # the settlement lands just after the answer
    assert statuses == [200, 200, 200, 429], statuses
    assert 2 * CALL_USD < 0.001 <= 3 * CALL_USD
    refused = r.json()["error"]
    assert refused["code"] == "budget_exceeded"
    assert refused["message"].startswith("Budget exceeded: $0.001 per 3600 s for this key (key limit).")
    for rid in ids[:3]:
        row = gw.wait_row(rid, key=key)
        assert row["costUSD"] == pytest.approx(CALL_USD)
    # the bare name routes too, and is listed
    assert "priced-deploy" in [m["id"] for m in httpx.get(f"{gw.url}/v1/models", timeout=10).json()["data"]]


def test_allow_unpriced_admits_unpriced_models_again(lenient):
    key = budget_key(lenient)
    answers = [chat(lenient, key, "my-gpt4o-deployment/openai") for _ in range(5)]
    assert [r.status_code for r in answers] == [200] * 5
    assert lenient.wait_row(answers[0].headers["helicone-id"], key=key)["costUSD"] is None


def test_the_organisations_own_key_is_not_refused_for_an_unknown_price(gw, upstream):
    """BYOK: the organisation pays the provider itself, so an unpriced model is admitted under its key's budget
    (counted as $0, as its cost is unknown); a priced model on its own key still counts against the budget."""
    key = budget_key(gw, usd=0.001, byok_base=f"{upstream.url}/v1")
    r = chat(gw, key, "my-gpt4o-deployment/openai")
    assert r.status_code == 200, r.text
    assert upstream.last("/chat/completions").headers["authorization"] == "Bearer sk-org-own-openai-key-0009"
    assert gw.wait_row(r.headers["helicone-id"], key=key)["costUSD"] is None
    # naming the gateway's key explicitly is not possible; the plan keeps BYOK and drops the PTB fallback
    statuses = []
    for _ in range(5):
        statuses.append(chat(gw, key, "priced-deploy/openai").status_code)
        time.sleep(0.05)
    assert statuses == [200, 200, 200, 429, 429], statuses


# -- n ------------------------------------------------------------------------------------------------------------


def test_n_above_the_cap_is_a_400_before_anything_is_forwarded(gw, lenient, upstream):
    marker = f"n-cap-{uuid.uuid4().hex[:10]}"
    msgs = [{"role": "user", "content": marker}]
    r = chat(gw, gw.key, "gpt-4o-mini", messages=msgs, n=1_000_000)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_n" and err["param"] == "n"
    assert "from 1 to 128" in err["message"]
    assert chat(gw, gw.key, "gpt-4o-mini", messages=msgs, n=129).status_code == 400
    assert (
        chat(lenient, lenient.key, "gpt-4o-mini", messages=msgs, n=5).json()["error"]["code"] == "invalid_n"
    )
    assert not seen_marker(upstream, marker)
    r = httpx.post(
        f"{lenient.url}/v1/completions",
        timeout=30,
        headers=lenient.headers(),
        json={"model": "gpt-3.5-turbo-instruct", "prompt": marker, "best_of": 20},
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "best_of"
    assert chat(lenient, lenient.key, "gpt-4o-mini", n=4).status_code == 200  # within the cap


def test_the_budget_reservation_grows_with_n(gw, upstream):
    """$0.01 per hour on gpt-4o-mini ($0.60 per 1M output tokens). With max_tokens 200, one choice may cost at most
    ≈ $0.00013, but n=128 choices ≈ $0.0154: held while that call is in flight, it leaves no room for a concurrent
    request, which is refused until the call settles at its real cost. Before, n was ignored: 128 choices
    reserved like one and the concurrent request ran."""
    key = budget_key(gw, usd=0.01)
    marker = f"n-hold-{uuid.uuid4().hex[:10]}"
    slow = [{"role": "user", "content": f"{marker} [[slow]]"}]
    first: list[httpx.Response] = []
    t = threading.Thread(
        target=lambda: first.append(chat(gw, key, "gpt-4o-mini", messages=slow, max_tokens=200, n=128))
    )
    t.start()
    deadline = time.monotonic() + 10
    while not seen_marker(upstream, marker):  # the hold is taken before the call goes out
        assert time.monotonic() < deadline, "the slow call never reached the upstream"
        time.sleep(0.01)
    during = chat(gw, key, "gpt-4o-mini", max_tokens=200)
    t.join()
    assert first[0].status_code == 200, first[0].text
    assert during.status_code == 429, during.text
    assert during.json()["error"]["code"] == "budget_exceeded"
    time.sleep(0.1)
    assert chat(gw, key, "gpt-4o-mini", max_tokens=200).status_code == 200  # the hold became the real cost


# -- limiter memory -----------------------------------------------------------------------------------------------


def test_a_year_long_policy_window_is_a_400(gw):
    r = chat(
        gw,
        gw.key,
        "gpt-4o-mini",
        {"Helicone-RateLimit-Policy": "1000;w=31622400;s=user", "Helicone-User-Id": "u1"},
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_rate_limit_policy"
    assert "window 'w' must be at most 2678400 seconds (31 days" in err["message"]
    ok = chat(
        gw,
        gw.key,
        "gpt-4o-mini",
        {"Helicone-RateLimit-Policy": "1000;w=2678400;s=user", "Helicone-User-Id": "u1"},
    )
    assert ok.status_code == 200


def test_per_user_counters_are_capped_per_key_and_shown_on_metrics(gw):
    """limits.max_segment_counters is 16 here: 60 distinct users on one key leave at most 16 user counters (plus
    the key's own), the rest evicted, and /metrics says so."""
    key = gw.new_key(f"segments-{uuid.uuid4().hex[:6]}")
    policy = "5;w=3000;s=user"
    before = metric(gw, "switchyard_limiter_evictions_total", 'backend="memory"')
    for i in range(60):
        assert (
            chat(
                gw, key, "gpt-4o-mini", {"Helicone-RateLimit-Policy": policy, "Helicone-User-Id": f"user-{i}"}
            ).status_code
            == 200
        )
    assert metric(gw, "switchyard_limiter_evictions_total", 'backend="memory"') - before >= 60 - 16
    live = metric(gw, "switchyard_limiter_counters", 'backend="memory"')
    assert 16 <= live < 60
    # the newest users keep their counts: user-59 has used 1 of 5
    r = chat(gw, key, "gpt-4o-mini", {"Helicone-RateLimit-Policy": policy, "Helicone-User-Id": "user-59"})
    assert r.headers["helicone-ratelimit-remaining"] == "3"


@pytest.mark.redis
def test_per_user_counters_are_capped_in_redis_too(upstream, tmp_path):
    """The same cap on Redis (shared by replicas): evicted counters' keys are deleted, and /metrics shows the live
    counters Redis holds for this prefix."""
    url = require_redis()
    prefix = fresh_prefix("sy-e2e-segments")
    g = GatewayProcess(
        tmp_path / "redis",
        default_config(
            upstream.url,
            free_port(),
            redis={"url": url, "key_prefix": prefix},
            limits={"max_segment_counters": 16},
        ),
    )
    g.prepare()
    g.start()
    try:
        for i in range(40):
            r = chat(
                g,
                g.key,
                "gpt-4o-mini",
                {"Helicone-RateLimit-Policy": "5;w=3000;s=user", "Helicone-User-Id": f"user-{i}"},
            )
            assert r.status_code == 200
        assert metric(g, "switchyard_limiter_counters", 'backend="redis"') == 16
        assert metric(g, "switchyard_limiter_evictions_total", 'backend="redis"') == 40 - 16
        client = redis.Redis.from_url(url)
        try:
            user_counters = list(client.scan_iter(match=f"{prefix}rl:r3000:h:*:u:*:m", count=1000))
        finally:
            client.close()
        assert len(user_counters) == 16
    finally:
        g.stop()
        drop_prefix(url, prefix)
