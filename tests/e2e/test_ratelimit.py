"""Helicone-RateLimit-Policy through a real gateway, with in-process counters and with Redis: quotas, 429s with
Retry-After and Helicone-RateLimit-* headers, user and property segments, cent budgets, malformed policies in
each caller's error shape, a cache hit counted, two replicas sharing one Redis, and Redis down (open / closed).

Counters are per (metric, window, key, segment), so each test uses a window of its own (61 s, 62 s, ...) on the
gateway's key: no test sees another's counts, and no test pays for creating keys. Each run starts fresh gateways
(and a fresh Redis prefix), so runs never collide either.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import yaml

from support.gateway import GatewayProcess, default_config, free_port
from support.services import drop_prefix, fresh_prefix, require_redis

POLICY = "Helicone-RateLimit-Policy"
ADMIN_KEY = "admin-e2e-limits-0123456789abcdefghij"
OPUS_CALL_USD = (
    20 * 15.00 + 10 * 75.00
) / 1e6  # recorded Anthropic answer: 20 in, 10 out; claude-opus-4 prices


def chat(gw: GatewayProcess, key: str, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(
        gw.url + "/v1/chat/completions",
        json=payload,
        headers={**gw.headers(key), **(headers or {})},
        timeout=30,
    )


def messages(gw: GatewayProcess, key: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    payload = {
        "model": "claude-opus-4",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
        **body,
    }
    return httpx.post(
        gw.url + "/v1/messages",
        json=payload,
        headers={"x-api-key": key, "anthropic-version": "2023-06-01", **headers},
        timeout=30,
    )


def rate_headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k.startswith("helicone-ratelimit-")}


@pytest.fixture(scope="module")
def redis_gateway(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    url = require_redis()
    prefix = fresh_prefix("sy-e2e-limits")
    gw = GatewayProcess(
        tmp_path_factory.mktemp("gateway-redis-limits"),
        default_config(
            upstream.url, free_port(), redis={"url": url, "key_prefix": prefix}, admin={"key": ADMIN_KEY}
        ),
    )
    gw.prepare()
    gw.start()
    yield gw
    gw.stop()
    keys = drop_prefix(url, prefix)
    assert any(b":rl:" in k for k in keys), "the Redis-backed gateway kept its counters under its key prefix"


@pytest.fixture(
    params=[pytest.param("memory", id="memory"), pytest.param("redis", id="redis", marks=pytest.mark.redis)]
)
def gw(request: pytest.FixtureRequest) -> GatewayProcess:
    return request.getfixturevalue("gateway" if request.param == "memory" else "redis_gateway")


# -- quotas ----------------------------------------------------------------------------------------------------


def test_policy_admits_the_quota_then_answers_429(gw):
    key = gw.key
    seen = []
    for _ in range(3):
        r = chat(gw, key, {POLICY: "3;w=61"})
        assert r.status_code == 200, r.text
        seen.append(rate_headers(r))
    assert [h["helicone-ratelimit-remaining"] for h in seen] == ["2", "1", "0"]
    assert all(
        h["helicone-ratelimit-limit"] == "3" and h["helicone-ratelimit-policy"] == "3;w=61;u=request"
        for h in seen
    )
    assert all(1 <= int(h["helicone-ratelimit-reset"]) <= 61 for h in seen)

    refused = chat(gw, key, {POLICY: "3;w=61"})
    assert refused.status_code == 429
    # the true wait: an entry lives for its window from its bucket stamp, which rounds up by at most window/1000
    # (61 ms here), so four quick requests can be told 62 s (limiter_memory.py's docstring)
    assert 1 <= int(refused.headers["retry-after"]) <= 62
    assert rate_headers(refused) == {
        "helicone-ratelimit-limit": "3",
        "helicone-ratelimit-remaining": "0",
        "helicone-ratelimit-policy": "3;w=61;u=request",
        "helicone-ratelimit-reset": refused.headers["helicone-ratelimit-reset"],
    }
    assert 1 <= int(refused.headers["helicone-ratelimit-reset"]) <= int(refused.headers["retry-after"])
    err = refused.json()["error"]
    assert err["code"] == "rate_limited" and err["type"] == "rate_limit_error"
    assert err["message"].startswith(
        "Rate limit reached: 3 requests per 61 s for this key (Helicone-RateLimit-Policy). Try again in "
    )
    assert (
        gw.wait_row(refused.headers["helicone-id"], key=key)["response_status"] == 429
    )  # refusals are logged

    # the OpenAI SDK sees its own RateLimitError
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={POLICY: "3;w=61"},
        )
    assert e.value.code == "rate_limited"
    # other keys and requests without the policy are not affected
    assert chat(gw, gw.new_key("limits"), {POLICY: "3;w=61"}).status_code == 200
    assert chat(gw, key).status_code == 200


def test_key_value_form_and_stream_headers(gw):
    key = gw.key
    r = chat(gw, key, {POLICY: "q=2;w=62;u=request"}, stream=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert rate_headers(r)["helicone-ratelimit-policy"] == "2;w=62;u=request"
    assert rate_headers(r)["helicone-ratelimit-remaining"] == "1"
    assert chat(gw, key, {POLICY: "2;w=62"}).status_code == 200  # both spellings share the counter
    assert chat(gw, key, {POLICY: "q=2;w=62"}, stream=True).status_code == 429


def test_user_segment_counts_each_user_separately(gw):
    key = gw.key

    def as_user(user: str | None) -> int:
        headers = {POLICY: "2;w=63;s=user", **({"Helicone-User-Id": user} if user else {})}
        return chat(gw, key, headers).status_code

    assert [as_user("alice") for _ in range(3)] == [200, 200, 429]
    assert [as_user("bob") for _ in range(3)] == [200, 200, 429]
    # no user id: those requests share one counter of their own (omitting the header does not escape the limit)
    assert [as_user(None) for _ in range(3)] == [200, 200, 429]
    refused = chat(gw, key, {POLICY: "2;w=63;s=user", "Helicone-User-Id": "alice"})
    assert "for user 'alice' on this key" in refused.json()["error"]["message"]


def test_property_segment_counts_each_value_separately(gw):
    key = gw.key

    def feature(value: str) -> int:
        return chat(gw, key, {POLICY: "1;w=64;s=Feature", "Helicone-Property-Feature": value}).status_code

    assert [feature("search"), feature("search"), feature("chat"), feature("chat")] == [200, 429, 200, 429]


def test_a_cache_hit_still_counts_against_the_quota(gw):
    key = gw.key
    marker = f"rl-cache-{uuid.uuid4().hex[:10]}"
    on = {POLICY: "2;w=65", "Helicone-Cache-Enabled": "true"}
    first = chat(gw, key, on, messages=[{"role": "user", "content": marker}])
    assert first.status_code == 200 and first.headers["helicone-cache"] == "MISS"
    time.sleep(0.3)  # the save runs after the answer
    second = chat(gw, key, on, messages=[{"role": "user", "content": marker}])
    assert (
        second.headers["helicone-cache"] == "HIT"
        and rate_headers(second)["helicone-ratelimit-remaining"] == "0"
    )
    assert chat(gw, key, on, messages=[{"role": "user", "content": marker}]).status_code == 429


# -- budgets ---------------------------------------------------------------------------------------------------


def test_cents_budget_admits_until_spent_then_answers_budget_exceeded(gw):
    """1 cent per hour on claude-opus-4 at 0.105 cents a call: the tenth call brings the spend to 1.05 cents (over
    by less than one call, as promised); the eleventh is refused, in the Anthropic shape on /v1/messages."""
    headers = {POLICY: "1;w=3600;u=cents"}
    statuses = []
    for _ in range(12):
        r = messages(gw, gw.key, headers)
        statuses.append(r.status_code)
        if r.status_code != 200:
            break
        time.sleep(0.05)  # settlement runs just after the answer; let it land before the next admission
    assert statuses == [200] * 10 + [429], statuses
    assert 9 * OPUS_CALL_USD < 0.01 <= 10 * OPUS_CALL_USD < 0.01 + OPUS_CALL_USD
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert body["error"]["message"].startswith(
        "Budget exceeded: 1 cent per 3600 s for this key (Helicone-RateLimit-Policy)."
    )
    assert rate_headers(r)["helicone-ratelimit-policy"] == "1;w=3600;u=cents"
    assert rate_headers(r)["helicone-ratelimit-remaining"] == "0"
    assert (
        int(r.headers["retry-after"]) >= 3500
    )  # spent money ages out of the window an hour after it was spent


# -- limits configured on keys and organisations (admin API) ----------------------------------------------------


def org_and_key(gw: GatewayProcess, org_limits: list[Any] = (), key_limits: list[Any] = ()) -> str:
    org = gw.admin("POST", "/orgs", {"name": f"limits-{uuid.uuid4().hex[:10]}"})
    if org_limits:
        gw.admin("PATCH", f"/orgs/{org['id']}", {"limits": list(org_limits)})
    return gw.admin("POST", f"/orgs/{org['id']}/keys", {"limits": list(key_limits)})["key"]


@pytest.mark.redis
def test_a_key_request_limit_from_the_admin_api(redis_gateway):
    key = org_and_key(redis_gateway, key_limits=[{"metric": "requests", "limit": 2, "window_seconds": 60}])
    answers = [chat(redis_gateway, key) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert not rate_headers(answers[0])  # no header policy: no Helicone-RateLimit-* on successes
    err = answers[2].json()["error"]
    assert err["code"] == "rate_limited"
    assert err["message"].startswith("Rate limit reached: 2 requests per 60 s for this key (key limit).")
    assert rate_headers(answers[2])["helicone-ratelimit-policy"] == "2;w=60;u=request"


@pytest.mark.redis
def test_an_organisation_budget_per_user(redis_gateway):
    """$0.002 per user per hour on claude-opus-4 ($0.00105 a call): two calls each, then budget_exceeded."""
    budget = {"metric": "usd", "limit": 0.002, "window_seconds": 3600, "per": "user"}
    key = org_and_key(redis_gateway, org_limits=[budget])

    def call(user: str) -> httpx.Response:
        r = messages(redis_gateway, key, {"Helicone-User-Id": user})
        time.sleep(0.05)  # let the settlement land
        return r

    alice = [call("alice") for _ in range(3)]
    assert [r.status_code for r in alice] == [200, 200, 429]
    assert (
        alice[2]
        .json()["error"]["message"]
        .startswith("Budget exceeded: $0.002 per 3600 s for user 'alice' (organization limit).")
    )
    assert call("bob").status_code == 200


@pytest.mark.redis
def test_a_token_limit_counts_real_usage(redis_gateway):
    """60 tokens a minute; the recorded answer uses 51: the second call is admitted (51 < 60), the third is not."""
    key = org_and_key(redis_gateway, key_limits=[{"metric": "tokens", "limit": 60, "window_seconds": 60}])
    statuses = []
    for _ in range(3):
        statuses.append(chat(redis_gateway, key).status_code)
        time.sleep(0.05)
    assert statuses == [200, 200, 429]


# -- malformed policies ----------------------------------------------------------------------------------------


def test_malformed_policy_is_a_400_in_the_openai_shape(gateway, upstream):
    marker = f"rl-bad-{uuid.uuid4().hex[:10]}"
    r = chat(gateway, gateway.key, {POLICY: "10;w=abc"}, messages=[{"role": "user", "content": marker}])
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "message": "Invalid Helicone-RateLimit-Policy '10;w=abc': window 'w' 'abc' must be a whole number; "
            "expected '<quota>;w=<seconds>[;u=request|cents][;s=user|<property>]' or 'q=<quota>;w=<seconds>[;...]'.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_rate_limit_policy",
        }
    }
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": marker}],
            extra_headers={POLICY: "10;w=60;u=tokens"},
        )
    assert "unit 'u=tokens' must be 'request' or 'cents'" in e.value.message
    assert not any(marker in str(s.body) for s in list(upstream.seen)), (
        "a bad policy never reaches the provider"
    )


def test_malformed_policy_is_a_400_in_the_anthropic_shape(gateway):
    r = messages(gateway, gateway.key, {POLICY: "10;w=60;s=a.b"})
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith(
        "Invalid Helicone-RateLimit-Policy '10;w=60;s=a.b': segment 's=a.b'"
    )


# -- replicas --------------------------------------------------------------------------------------------------


@pytest.mark.redis
def test_two_replicas_share_one_redis_quota(redis_gateway, upstream, tmp_path):
    """A second gateway process on the same database and Redis prefix: together they admit exactly the quota."""
    a = redis_gateway
    cfg = default_config(
        upstream.url,
        free_port(),
        database={"url": f"sqlite:///{a.home / 'switchyard.db'}"},
        redis=a.config["redis"],
    )
    b = GatewayProcess(tmp_path / "b", cfg)
    b.home.mkdir(parents=True)
    b.config_path.write_text(yaml.safe_dump(cfg))
    shutil.copy(a.home / "master.key", b.home / "master.key")  # replicas share one master secret
    b.start()
    try:
        statuses = [chat(gw, a.key, {POLICY: "4;w=66"}).status_code for gw in (a, b) * 4]
        assert statuses == [200, 200, 200, 200, 429, 429, 429, 429]
    finally:
        b.stop()


# -- Redis down ------------------------------------------------------------------------------------------------


def _dead_redis_gateway(upstream, tmp_path, on_failure: str) -> GatewayProcess:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    cfg = default_config(
        upstream.url, free_port(), redis={"url": dead, "on_failure": on_failure, "timeout_ms": 100}
    )
    gw = GatewayProcess(tmp_path / on_failure, cfg)
    gw.prepare()
    gw.start()
    return gw


def test_redis_down_fail_open_limits_per_replica(upstream, tmp_path):
    gw = _dead_redis_gateway(upstream, tmp_path, "open")
    try:
        assert [chat(gw, gw.key, {POLICY: "2;w=60"}).status_code for _ in range(3)] == [200, 200, 429]
        assert chat(gw, gw.key).status_code == 200
        assert "Redis unreachable for limits" in gw.log_path.read_text()
    finally:
        gw.stop()


def test_redis_down_fail_closed_answers_503_not_500(upstream, tmp_path):
    gw = _dead_redis_gateway(upstream, tmp_path, "closed")
    try:
        r = chat(gw, gw.key, {POLICY: "2;w=60"})
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "limits_unavailable"
        m = messages(gw, gw.key, {POLICY: "2;w=60"})
        assert m.status_code == 503 and m.json()["error"]["type"] == "overloaded_error"
        assert chat(gw, gw.key).status_code == 200  # requests without any limit never need Redis
    finally:
        gw.stop()
