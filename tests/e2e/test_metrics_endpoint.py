"""`GET /metrics` on a real gateway process: Prometheus text format, counting the requests it served."""

from __future__ import annotations

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
    gw = GatewayProcess(tmp_path_factory.mktemp("metrics"), default_config(upstream.url, free_port()))
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
