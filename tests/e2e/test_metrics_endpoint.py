"""`GET /metrics` on a real gateway process: Prometheus text format, counting the requests it served."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.gateway import GatewayProcess, default_config, free_port

UPSTREAM_KEYS = ("sk-upstream-openai-secret-0001", "sk-ant-upstream-secret-0002", "AIzaUpstreamSecret0003xyz")
CHAT_OK = {
    "surface": "chat",
    "provider": "openai",
    "model": "gpt-4o-mini",
    "status_class": "2xx",
    "cache": "off",
}
BAD_KEY = {"surface": "chat", "provider": "none", "model": "none", "status_class": "4xx", "cache": "off"}


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory):
    """A gateway of this module's own: exact counts, and no other test's faults (an open circuit) in the way."""
    config = default_config(upstream.url, free_port(), access_log={"format": "json"})
    gw = GatewayProcess(tmp_path_factory.mktemp("metrics"), config)
    gw.prepare()
    gw.start()
    yield gw
    gw.stop()


def scrape(gateway) -> tuple[httpx.Response, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    r = httpx.get(f"{gateway.url}/metrics", timeout=10)
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(r.text)
        for s in fam.samples
    }
    return r, samples


def count(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def chat(gateway, *, stream: bool = False, key: str | None = None) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {key or gateway.key}"},
    )


def test_metrics_is_prometheus_text(gateway):
    assert chat(gateway).status_code == 200  # series appear with their first sample
    r, samples = scrape(gateway)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE switchyard_requests_total counter" in r.text
    assert "# TYPE switchyard_request_duration_seconds histogram" in r.text
    assert ("switchyard_log_queue_depth", frozenset()) in samples  # the log sink is bound
    assert count(samples, "switchyard_process_resident_memory_bytes") > 0
    for secret in (*UPSTREAM_KEYS, gateway.key):
        assert secret not in r.text


def test_metrics_count_served_requests(gateway):
    _, before = scrape(gateway)
    for _ in range(3):
        assert chat(gateway).status_code == 200
    r = chat(gateway, stream=True)
    assert r.status_code == 200 and "[DONE]" in r.text
    assert chat(gateway, key="sk-helicone-not-a-real-key").status_code == 401
    _, after = scrape(gateway)

    assert (
        count(after, "switchyard_requests_total", **CHAT_OK)
        - count(before, "switchyard_requests_total", **CHAT_OK)
        == 4
    )
    assert (
        count(after, "switchyard_requests_total", **BAD_KEY)
        - count(before, "switchyard_requests_total", **BAD_KEY)
        == 1
    )
    ok = {"provider": "openai", "outcome": "ok"}
    attempts = "switchyard_upstream_attempts_total"
    assert count(after, attempts, **ok) - count(before, attempts, **ok) == 4
    name = "switchyard_request_duration_seconds_count"
    assert count(after, name, surface="chat") - count(before, name, surface="chat") == 5
    tokens = {"provider": "openai", "model": "gpt-4o-mini", "type": "output"}
    assert count(after, "switchyard_tokens_total", **tokens) > count(
        before, "switchyard_tokens_total", **tokens
    )
    cost = {"provider": "openai", "model": "gpt-4o-mini"}
    assert count(after, "switchyard_cost_usd_total", **cost) > count(
        before, "switchyard_cost_usd_total", **cost
    )
    ttft = "switchyard_time_to_first_token_seconds_count"
    assert (
        count(after, ttft, surface="chat", provider="openai")
        - count(before, ttft, surface="chat", provider="openai")
        == 1
    )
    up = "switchyard_upstream_duration_seconds_count"
    assert count(after, up, provider="openai") - count(before, up, provider="openai") == 4


def test_openmetrics_on_request(gateway):
    r = httpx.get(
        f"{gateway.url}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert r.text.endswith("# EOF\n")


def series(gateway) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    return set(scrape(gateway)[1])


def made_up(client: httpx.Client, i: int) -> None:
    """One request full of caller-chosen values: a made-up model (unknown; passthrough to a known provider;
    on the Anthropic surface), user, session, property name and value."""
    headers = {
        "Helicone-User-Id": f"user-{i}",
        "Helicone-Session-Id": f"session-{i}",
        f"Helicone-Property-Made-Up-{i}": f"value-{i}",
        "Helicone-Property-Team": f"team-{i}",
    }
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    if i % 3 == 0:
        client.post("/v1/chat/completions", json={"model": f"made-up-model-{i}", **chat}, headers=headers)
    elif i % 3 == 1:
        client.post(
            "/v1/chat/completions", json={"model": f"made-up-model-{i}/openai", **chat}, headers=headers
        )
    else:
        body = {"model": f"claude-made-up-{i}", "max_tokens": 5, **chat}
        client.post("/v1/messages", json=body, headers=headers)


def test_made_up_values_leave_the_series_count_flat(gateway):
    auth = {"Authorization": f"Bearer {gateway.key}"}
    with httpx.Client(base_url=gateway.url, headers=auth, timeout=30) as c:
        for i in range(3):  # every kind of answer once: its series exist from now on
            made_up(c, i)
    before = series(gateway)
    assert any(dict(labels).get("model") == "other" for _, labels in before)  # the passthrough was served

    def batch(start: int) -> None:
        with httpx.Client(base_url=gateway.url, headers=auth, timeout=30) as c:
            for i in range(start, 1003, 4):
                made_up(c, i)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(batch, range(3, 7)))  # 1,000 more made-up models, users, sessions and properties
    after = series(gateway)
    assert after == before, sorted(after ^ before)
    text = scrape(gateway)[0].text
    assert "made-up" not in text and "user-" not in text and "team-" not in text


def test_access_log_json_line_per_request(gateway):
    rid = str(uuid.uuid4())
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {gateway.key}", "Helicone-Request-Id": rid},
        timeout=30,
    )
    assert r.status_code == 200
    deadline = time.monotonic() + 10
    line = None
    while line is None and time.monotonic() < deadline:
        for raw in gateway.log_path.read_text().splitlines():
            if f'"{rid}"' in raw:
                line = json.loads(raw)  # the whole line is one JSON object: nothing before or after it
        time.sleep(0.1)
    assert line is not None
    assert line["level"] == "info" and line["msg"] == "request"
    assert line["id"] == rid and line["org"]
    assert line["model"] == "gpt-4o-mini" and line["provider"] == "openai" and line["status"] == 200
    assert line["latency_ms"] > 0 and line["input_tokens"] > 0 and line["output_tokens"] > 0
    assert line["cost_usd"] > 0 and line["surface"] == "chat" and line["cache"] == "off"
    assert gateway.key not in gateway.log_path.read_text()


def test_count_tokens_is_counted_under_its_own_surface(gateway):
    labels = {"surface": "count_tokens", "provider": "anthropic", "model": "claude-sonnet-4"}
    labels |= {"status_class": "2xx", "cache": "off"}
    _, before = scrape(gateway)
    r = httpx.post(
        f"{gateway.url}/v1/messages/count_tokens",
        json={"model": "claude-sonnet-4", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": gateway.key, "anthropic-version": "2023-06-01"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    _, after = scrape(gateway)
    name = "switchyard_requests_total"
    assert count(after, name, **labels) - count(before, name, **labels) == 1
