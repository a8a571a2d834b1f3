"""Helicone's response cache through a real gateway: MISS then HIT, streams replayed for the OpenAI and
Anthropic SDKs, organisation isolation, ignore-keys, buckets, bad headers, and the hit's log row.

Every test tags its prompt with a fresh marker, so entries never collide across tests or runs, and counts the
mock upstream's requests carrying that marker to prove a hit never reached the provider.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.services import drop_prefix, fresh_prefix, require_redis
from support.wire import chat_stream_text, sse_events, stream

ON = {"Helicone-Cache-Enabled": "true"}
SAVE_SETTLE = 0.5  # saves run after the answer is sent; give them a moment before expecting a hit


def tag() -> str:
    return f"cache-{uuid.uuid4().hex[:12]}"


def upstream_calls(upstream, marker: str) -> int:
    def text(body: Any) -> str:
        return body.decode("utf-8", "replace") if isinstance(body, bytes) else json.dumps(body)

    return sum(1 for s in list(upstream.seen) if marker in text(s.body))


def chat(
    gw: GatewayProcess,
    content: str,
    headers: dict[str, str] | None = None,
    key: str | None = None,
    path: str = "/v1/chat/completions",
    **body: Any,
) -> httpx.Response:
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **body}
    return httpx.post(gw.url + path, json=payload, headers={**gw.headers(key), **(headers or {})}, timeout=30)


@pytest.fixture(scope="module")
def redis_gateway(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    url = require_redis()
    prefix = fresh_prefix("sy-e2e-cache")
    gw = GatewayProcess(
        tmp_path_factory.mktemp("gateway-redis-cache"),
        default_config(
            upstream.url, free_port(), redis={"url": url, "key_prefix": prefix, "timeout_ms": 2000}
        ),
    )
    gw.prepare()
    gw.start()
    yield gw
    gw.stop()
    assert drop_prefix(url, prefix), "the Redis-backed gateway stored its entries under its key prefix"


@pytest.fixture(
    params=[pytest.param("memory", id="memory"), pytest.param("redis", id="redis", marks=pytest.mark.redis)]
)
def any_gateway(request: pytest.FixtureRequest) -> GatewayProcess:
    return request.getfixturevalue("gateway" if request.param == "memory" else "redis_gateway")


# -- MISS then HIT ----------------------------------------------------------------------------------------


def test_miss_then_hit_with_identical_body(any_gateway, upstream):
    m = tag()
    first = chat(any_gateway, m, ON)
    assert first.status_code == 200, first.text
    assert first.headers["helicone-cache"] == "MISS"
    assert "helicone-cache-bucket-idx" not in first.headers
    time.sleep(SAVE_SETTLE)
    second = chat(any_gateway, m, ON)
    assert second.status_code == 200
    assert second.headers["helicone-cache"] == "HIT"
    assert second.headers["helicone-cache-bucket-idx"] == "0"
    assert second.content == first.content
    assert second.headers["content-type"].startswith("application/json")
    assert second.headers["helicone-id"] != first.headers["helicone-id"]
    assert second.headers["helicone-provider"] == "openai"
    assert upstream_calls(upstream, m) == 1, "the hit must not reach the provider"


def test_without_cache_headers_nothing_is_cached_or_announced(gateway, upstream):
    m = tag()
    for _ in range(2):
        r = chat(gateway, m)
        assert r.status_code == 200 and "helicone-cache" not in r.headers
        time.sleep(SAVE_SETTLE)
    assert upstream_calls(upstream, m) == 2


def test_save_only_then_read_only(gateway, upstream):
    m = tag()
    saved = chat(gateway, m, {"Helicone-Cache-Save": "true"})
    assert saved.status_code == 200 and "helicone-cache" not in saved.headers, "HIT/MISS only when reading"
    time.sleep(SAVE_SETTLE)
    read = chat(gateway, m, {"Helicone-Cache-Read": "TRUE"})
    assert read.headers["helicone-cache"] == "HIT" and read.content == saved.content
    assert upstream_calls(upstream, m) == 1


def test_seed_and_stream_flag_make_separate_entries(gateway, upstream):
    m = tag()
    assert chat(gateway, m, {**ON, "Helicone-Cache-Seed": "a"}).headers["helicone-cache"] == "MISS"
    time.sleep(SAVE_SETTLE)
    assert chat(gateway, m, {**ON, "Helicone-Cache-Seed": "b"}).headers["helicone-cache"] == "MISS"
    assert chat(gateway, m, {**ON, "Helicone-Cache-Seed": "a"}).headers["helicone-cache"] == "HIT"
    streamed = chat(gateway, m, {**ON, "Helicone-Cache-Seed": "a"}, stream=True)
    assert streamed.headers["helicone-cache"] == "MISS", "a stream is not served a JSON answer"
    assert upstream_calls(upstream, m) == 3


# -- streams ----------------------------------------------------------------------------------------------


def test_stream_hit_replays_sse_that_the_openai_sdk_reads(gateway, upstream):
    m = tag()
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    texts, headers = [], []
    for _ in range(2):
        with client.chat.completions.with_streaming_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": m}],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=ON,
        ) as resp:
            headers.append(resp.headers)
            chunks = list(resp.parse())
        texts.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
        time.sleep(SAVE_SETTLE)
    assert [h["helicone-cache"] for h in headers] == ["MISS", "HIT"]
    assert headers[1]["content-type"].startswith("text/event-stream")
    assert headers[1]["helicone-cache-bucket-idx"] == "0"
    assert texts[0] == texts[1] == chat_stream_text("openai/chat_completion_stream_usage.sse")
    assert upstream_calls(upstream, m) == 1


def test_stream_hit_is_byte_identical(gateway, upstream):
    m = tag()
    bodies = []
    for _ in range(2):
        r = chat(gateway, m, ON, stream=True)
        assert r.status_code == 200
        bodies.append(r.content)
        time.sleep(SAVE_SETTLE)
    assert bodies[0] == bodies[1]
    assert bodies[1].rstrip().endswith(b"data: [DONE]")
    assert upstream_calls(upstream, m) == 1


def test_anthropic_messages_stream_hit_is_well_formed_for_the_sdk(gateway, upstream, monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    m = tag()
    client = anthropic.Anthropic(api_key=gateway.key, base_url=gateway.url, default_headers=ON, max_retries=0)
    finals, states = [], []
    for _ in range(2):
        with client.messages.stream(
            model="claude-sonnet-4/anthropic", max_tokens=256, messages=[{"role": "user", "content": m}]
        ) as s:
            states.append(s.response.headers["helicone-cache"])
            finals.append(s.get_final_message())
        time.sleep(SAVE_SETTLE)
    assert states == ["MISS", "HIT"]
    recorded = "".join(
        ev["delta"]["text"]
        for ev in sse_events(stream("anthropic/messages_stream_text.sse"))
        if ev.get("type") == "content_block_delta" and ev["delta"]["type"] == "text_delta"
    )
    assert finals[0].content[0].text == finals[1].content[0].text == recorded
    assert finals[0].usage == finals[1].usage and finals[1].stop_reason == finals[0].stop_reason
    assert upstream_calls(upstream, m) == 1


def test_a_stream_that_failed_midway_is_not_cached(gateway, upstream):
    m = tag() + " [[midstream-error]]"
    for _ in range(2):
        r = chat(gateway, m, ON, stream=True)
        assert r.headers["helicone-cache"] == "MISS" and b"overloaded mid-stream" in r.content
        time.sleep(SAVE_SETTLE)
    assert upstream_calls(upstream, m) == 2


def test_error_answers_are_not_cached(gateway, upstream):
    m = tag() + " [[error:429]]"
    for _ in range(2):
        r = chat(gateway, m, ON)
        assert r.status_code == 429 and r.headers["helicone-cache"] == "MISS"
        time.sleep(SAVE_SETTLE)
    assert upstream_calls(upstream, m) == 2


# -- keys -------------------------------------------------------------------------------------------------


def test_another_organisation_gets_a_miss(gateway, upstream):
    m = tag()
    other = gateway.new_key("cache-other-org")
    assert chat(gateway, m, ON).headers["helicone-cache"] == "MISS"
    time.sleep(SAVE_SETTLE)
    assert chat(gateway, m, ON, key=other).headers["helicone-cache"] == "MISS"
    time.sleep(SAVE_SETTLE)
    assert chat(gateway, m, ON).headers["helicone-cache"] == "HIT"
    assert chat(gateway, m, ON, key=other).headers["helicone-cache"] == "HIT"
    assert upstream_calls(upstream, m) == 2


def test_ignore_keys_with_two_keys(gateway, upstream):
    m = tag()
    ignore = {**ON, "Helicone-Cache-Ignore-Keys": "user, prompt_cache_key"}
    first = chat(gateway, m, ignore, user="alice", prompt_cache_key="p-1")
    assert first.headers["helicone-cache"] == "MISS"
    time.sleep(SAVE_SETTLE)
    second = chat(gateway, m, ignore, user="bob", prompt_cache_key="p-2")
    assert second.headers["helicone-cache"] == "HIT" and second.content == first.content
    other_temp = chat(gateway, m, ignore, user="bob", prompt_cache_key="p-2", temperature=0.9)
    assert other_temp.headers["helicone-cache"] == "MISS", "keys not listed still count"
    assert chat(gateway, m, ON, user="carol", prompt_cache_key="p-3").headers["helicone-cache"] == "MISS"
    assert upstream_calls(upstream, m) == 3


def test_bucket_of_two_fills_then_serves_both_slots(gateway, upstream):
    m = tag()
    bucket = {**ON, "Helicone-Cache-Bucket-Max-Size": "2"}
    for _ in range(2):
        assert chat(gateway, m, bucket).headers["helicone-cache"] == "MISS"
        time.sleep(SAVE_SETTLE)
    seen = set()
    for _ in range(24):
        r = chat(gateway, m, bucket)
        assert r.headers["helicone-cache"] == "HIT"
        seen.add(r.headers["helicone-cache-bucket-idx"])
    assert seen == {"0", "1"}
    assert upstream_calls(upstream, m) == 2


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Helicone-Cache-Bucket-Max-Size", "21"),
        ("Helicone-Cache-Bucket-Max-Size", "0"),
        ("Helicone-Cache-Bucket-Max-Size", "many"),
        ("Cache-Control", "max-age=soon"),
    ],
)
def test_bad_cache_header_is_a_400_naming_it(gateway, upstream, header, value):
    m = tag()
    r = chat(gateway, m, {**ON, header: value})
    assert r.status_code == 400
    assert header in r.json()["error"]["message"]
    assert upstream_calls(upstream, m) == 0


def test_bad_cache_header_on_messages_is_anthropic_shaped(gateway):
    r = httpx.post(
        gateway.url + "/v1/messages",
        headers={**gateway.headers(), **ON, "Helicone-Cache-Bucket-Max-Size": "21"},
        json={
            "model": "claude-sonnet-4/anthropic",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}],
        },
        timeout=30,
    )
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and "Helicone-Cache-Bucket-Max-Size" in body["error"]["message"]


# -- the log ----------------------------------------------------------------------------------------------


def test_hit_is_logged_with_cache_hit_and_cost_saved(any_gateway):
    m = tag()
    props = {**ON, "Helicone-Property-Cache-Run": m}
    miss = chat(any_gateway, m, props)
    time.sleep(SAVE_SETTLE)
    hit = chat(any_gateway, m, props)
    assert (miss.headers["helicone-cache"], hit.headers["helicone-cache"]) == ("MISS", "HIT")
    original = any_gateway.wait_row(miss.headers["helicone-id"])
    row = any_gateway.wait_row(hit.headers["helicone-id"])
    cost = original["costUSD"]
    assert original["cache_hit"] is False and cost > 0
    assert row["cache_hit"] is True
    assert row["costUSD"] == 0
    assert row["attempts"] == []
    assert (row["provider"], row["model"], row["response_status"]) == ("openai", original["model"], 200)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (
        original["prompt_tokens"],
        original["completion_tokens"],
    )

    where = {"properties": {"cache-run": {"equals": m}}}
    cached = any_gateway.query({"filter": where, "isCached": True})
    assert [r["request_id"] for r in cached] == [hit.headers["helicone-id"]]
    fresh = any_gateway.query({"filter": where, "isCached": False})
    assert [r["request_id"] for r in fresh] == [miss.headers["helicone-id"]]
    assert row["cost_saved_usd"] == pytest.approx(cost), "the hit records what the original call cost"
