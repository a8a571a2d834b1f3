"""observe/metrics.py: what a Prometheus scrape sees after gateway events, breaker changes and sink activity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from switchyard.config import BreakerSettings
from switchyard.observe.metrics import Metrics
from switchyard.observe.sink import LogSink
from switchyard.observe.spool import Spool
from switchyard.pipeline.health import Health


def scrape(m: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, content_type = m.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(body.decode())
        for s in fam.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> set[str]:
    return {name for name, _ in samples}


def test_requests_are_counted_per_route_status_cache_and_provider():
    m = Metrics(process=False)
    for path in ("/v1/chat/completions", "/chat/completions", "/v1/chat/completions/"):
        m.request(path, 200, False, "openai")
    m.request("/v1/messages", 200, True, "anthropic")
    m.request("/v1/messages", 401, False, None)
    s = scrape(m)
    labels = {"cache_hit": "false", "provider": "openai", "route": "/chat/completions", "status": "200"}
    assert value(s, "switchyard_requests_total", **labels) == 3  # one route whatever the spelling
    assert (
        value(
            s,
            "switchyard_requests_total",
            route="/messages",
            status="200",
            cache_hit="true",
            provider="anthropic",
        )
        == 1
    )
    assert (
        value(
            s,
            "switchyard_requests_total",
            route="/messages",
            status="401",
            cache_hit="false",
            provider="none",
        )
        == 1
    )


def test_latency_histogram_is_cumulative():
    m = Metrics(process=False)
    for seconds in (0.004, 0.05, 0.05, 0.3, 1000.0):
        m.latency("/v1/chat/completions", seconds)
    s = scrape(m)

    def bucket(le: str) -> float | None:
        return value(s, "switchyard_request_duration_seconds_bucket", route="/chat/completions", le=le)

    assert bucket("0.005") == 1
    assert bucket("0.05") == 3  # a value on a bound is inside it (le = less than or equal)
    assert bucket("0.5") == 4
    assert bucket("300.0") == 4
    assert bucket("+Inf") == 5
    assert value(s, "switchyard_request_duration_seconds_count", route="/chat/completions") == 5
    assert (
        abs(value(s, "switchyard_request_duration_seconds_sum", route="/chat/completions") - 1000.404) < 1e-9
    )


def test_upstream_cache_limit_and_redis_events():
    m = Metrics(process=False)
    m.attempt("openai", "ok")
    m.attempt("openai", "timeout")
    m.attempt("openai", "timeout")
    m.retry("openai")
    m.hedge("started")
    m.hedge("won")
    m.ratelimited("key")
    m.credits_rejected()
    m.credits_rejected()
    m.cache("hit")
    m.cache("miss")
    m.redis_error("get")
    s = scrape(m)
    assert value(s, "switchyard_upstream_attempts_total", provider="openai", outcome="ok") == 1
    assert value(s, "switchyard_upstream_attempts_total", provider="openai", outcome="timeout") == 2
    assert value(s, "switchyard_upstream_retries_total", provider="openai") == 1
    assert value(s, "switchyard_hedges_total", outcome="started") == 1
    assert value(s, "switchyard_hedges_total", outcome="won") == 1
    assert value(s, "switchyard_rate_limited_total", scope="key") == 1
    assert value(s, "switchyard_credits_rejected_total") == 2
    assert value(s, "switchyard_cache_total", result="hit") == 1
    assert value(s, "switchyard_cache_total", result="miss") == 1
    assert value(s, "switchyard_redis_errors_total", op="get") == 1
    assert "switchyard_redis_up" not in names(s)  # no Redis configured: no gauge
    m.set_redis_up(False)
    assert value(scrape(m), "switchyard_redis_up") == 0
    m.set_redis_up(True)
    assert value(scrape(m), "switchyard_redis_up") == 1


def test_zero_counters_before_any_event():
    s = scrape(Metrics(process=False))
    assert value(s, "switchyard_credits_rejected_total") == 0
    assert not any(name.startswith("switchyard_requests") for name in names(s))


def test_circuit_state_is_read_from_health_at_scrape_time():
    now = [0.0]
    health = Health(BreakerSettings(failures=2, open_seconds=10, max_open_seconds=60), lambda: now[0])
    m = Metrics(process=False)
    m.bind_health(health)
    assert "switchyard_circuit_state" not in names(scrape(m))  # nothing tracked: every endpoint closed
    health.failure("openai:ptb", "server")
    health.failure("anthropic:byok:org-1:k1", "auth")
    s = scrape(m)
    assert value(s, "switchyard_circuit_state", endpoint="openai:ptb") == 0
    assert value(s, "switchyard_circuit_consecutive_failures", endpoint="openai:ptb") == 1
    assert value(s, "switchyard_circuit_state", endpoint="anthropic:byok") == 2  # BYOK: per provider, no key id
    now[0] = 10.0
    assert value(scrape(m), "switchyard_circuit_state", endpoint="anthropic:byok") == 1  # half-open
    health.success("anthropic:byok:org-1:k1")
    s = scrape(m)
    assert value(s, "switchyard_circuit_state", endpoint="anthropic:byok") is None  # closed and forgotten


class _Store:
    async def ping(self) -> None:
        return None

    async def insert_requests(self, records: list[dict[str, Any]]) -> None:
        return None


def test_sink_queue_and_spool_are_read_at_scrape_time(tmp_path: Path):
    spool = Spool(tmp_path / "spool")
    # never started, so nothing drains: the queue and the spool hold what the test put there
    sink = LogSink(_Store(), spool, flush_interval=3600, replay_interval=3600)
    m = Metrics(process=False)
    m.bind_sink(sink)
    s = scrape(m)
    assert value(s, "switchyard_log_queue_depth") == 0
    assert value(s, "switchyard_log_spool_files") == 0
    assert value(s, "switchyard_log_store_up") == 1
    for i in range(3):
        sink.submit({"id": str(i)})
    spool.write([{"id": "a"}])
    spool.write([{"id": "b"}])
    s = scrape(m)
    assert value(s, "switchyard_log_queue_depth") == 3
    assert value(s, "switchyard_log_spool_files") == 2
    assert value(s, "switchyard_log_records_written_total") == 0


def test_openmetrics_when_the_scraper_asks_for_it():
    m = Metrics(process=False)
    m.request("/v1/chat/completions", 200, False, "openai")
    body, content_type = m.render(
        "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"
    )
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    [sample] = [
        s
        for f in parse_openmetrics(body.decode())
        if f.name == "switchyard_requests"
        for s in f.samples
        if s.name == "switchyard_requests_total"
    ]
    assert sample.value == 1


def test_each_instance_has_its_own_registry_and_process_metrics():
    a, b = Metrics(), Metrics()
    a.credits_rejected()
    assert value(scrape(a), "switchyard_credits_rejected_total") == 1
    assert value(scrape(b), "switchyard_credits_rejected_total") == 0
    # the process-global registry is untouched
    assert REGISTRY.get_sample_value("switchyard_credits_rejected_total") is None
    assert "switchyard_process_resident_memory_bytes" in names(scrape(a))
