"""observe/metrics.py: what a Prometheus scrape sees after gateway events, breaker changes and sink activity;
metrics_multiprocess.py: several workers' files merged into one scrape."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from switchyard import __version__
from switchyard.config import BreakerSettings
from switchyard.observe.cost import Usage
from switchyard.observe.metrics import Metrics
from switchyard.observe.metrics_multiprocess import SharedFiles, prepare_dir
from switchyard.observe.sink import LogSink
from switchyard.observe.spool import Spool
from switchyard.pipeline.context import AttemptLog, RequestContext
from switchyard.pipeline.headers import parse_helicone

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(body: bytes) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(body.decode())
        for s in fam.samples
    }


def scrape(m: Metrics) -> Samples:
    body, content_type = m.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    return parse(body)


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def ctx_for(
    path: str = "/v1/chat/completions",
    status: int = 200,
    provider: str | None = "openai",
    model: str | None = "gpt-4o-mini",
    seconds: float = 0.02,
    usage: Usage | None = None,
    cost: float | None = None,
    ttft: float | None = None,
    attempts: tuple[AttemptLog, ...] = (),
) -> RequestContext:
    ctx = RequestContext(path=path, helicone=parse_helicone({}))
    ctx.started = time.perf_counter() - seconds
    ctx.status, ctx.provider, ctx.registry_model = status, provider, model
    ctx.usage, ctx.cost_usd = usage, cost
    if ttft is not None:
        ctx.stream, ctx.ttft_ms = True, ttft * 1000
    ctx.attempts = list(attempts)
    return ctx


def test_requests_by_surface_provider_model_status_class_and_cache():
    m = Metrics(process=False)
    for path in ("/v1/chat/completions", "/chat/completions", "/v1/chat/completions/"):
        m.finished(ctx_for(path), "off")
    m.finished(ctx_for("/v1/messages", provider="anthropic", model="claude-sonnet-4"), "hit")
    m.finished(ctx_for("/v1/messages", status=401, provider=None, model=None), "off")
    m.finished(ctx_for("/v1/chat/completions", status=503), "miss")
    s = scrape(m)
    ok = {
        "surface": "chat",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "status_class": "2xx",
        "cache": "off",
    }
    assert value(s, "switchyard_requests_total", **ok) == 3  # one surface whatever the spelling
    hit = {"surface": "messages", "provider": "anthropic", "model": "claude-sonnet-4", "status_class": "2xx"}
    assert value(s, "switchyard_requests_total", **hit, cache="hit") == 1
    refused = {
        "surface": "messages",
        "provider": "none",
        "model": "none",
        "status_class": "4xx",
        "cache": "off",
    }
    assert value(s, "switchyard_requests_total", **refused) == 1
    assert value(s, "switchyard_requests_total", **{**ok, "status_class": "5xx", "cache": "miss"}) == 1


def test_tokens_and_cost_per_provider_and_model_without_cache_hits():
    m = Metrics(process=False)
    usage = Usage(prompt_tokens=100, completion_tokens=40, cached_tokens=30, reasoning_tokens=10)
    m.finished(ctx_for(usage=usage, cost=0.25), "off")
    m.finished(ctx_for(usage=usage, cost=0.25), "miss")
    m.finished(ctx_for(usage=usage, cost=0.25), "hit")  # answered from the cache: no provider tokens, no cost
    s = scrape(m)
    pm = {"provider": "openai", "model": "gpt-4o-mini"}
    assert value(s, "switchyard_tokens_total", **pm, type="input") == 200
    assert value(s, "switchyard_tokens_total", **pm, type="output") == 80
    assert value(s, "switchyard_tokens_total", **pm, type="cached") == 60
    assert value(s, "switchyard_tokens_total", **pm, type="reasoning") == 20
    assert value(s, "switchyard_cost_usd_total", **pm) == 0.5


def test_latency_ttft_and_upstream_histograms():
    m = Metrics(process=False)
    for seconds in (0.003, 0.04, 0.3, 1000.0):
        m.finished(ctx_for(seconds=seconds), "off")
    tries = (
        AttemptLog("openai", "gpt-4o-mini", latency_ms=30.0, kind="server"),
        AttemptLog("openai", "gpt-4o-mini", latency_ms=2.0),
        AttemptLog(
            "anthropic", "claude", latency_ms=9.0, kind="cancelled"
        ),  # a hedge that lost: not a latency
        AttemptLog("anthropic", "claude", kind="circuit_open"),  # never sent
    )
    m.finished(ctx_for(seconds=0.04, ttft=0.2, attempts=tries), "off")
    s = scrape(m)

    def bucket(le: str) -> float | None:
        return value(s, "switchyard_request_duration_seconds_bucket", surface="chat", le=le)

    assert bucket("0.005") == 1
    assert bucket("0.05") == 3
    assert bucket("0.5") == 4
    assert bucket("+Inf") == 5
    assert value(s, "switchyard_request_duration_seconds_count", surface="chat") == 5
    ttft = {"surface": "chat", "provider": "openai"}
    assert value(s, "switchyard_time_to_first_token_seconds_bucket", **ttft, le="0.1") == 0
    assert value(s, "switchyard_time_to_first_token_seconds_bucket", **ttft, le="0.25") == 1
    assert value(s, "switchyard_upstream_duration_seconds_count", provider="openai") == 2
    assert value(s, "switchyard_upstream_duration_seconds_bucket", provider="openai", le="0.005") == 1
    assert value(s, "switchyard_upstream_duration_seconds_count", provider="anthropic") is None


def test_made_up_values_leave_the_series_count_flat():
    """1,000 made-up models, providers, users, sessions and properties: no new series (label values come from
    the registry's sets, or `other`)."""
    m = Metrics(process=False, providers={"openai", "anthropic"}, models={"gpt-4o-mini"})

    def made_up(i: int) -> None:
        ctx = ctx_for(
            provider=f"made-up-provider-{i}",
            model=f"made-up-model-{i}",
            ttft=0.1,
            attempts=(AttemptLog(f"made-up-provider-{i}", f"m{i}", latency_ms=1.0),),
        )
        ctx.helicone = parse_helicone(
            {
                "helicone-user-id": f"user-{i}",
                "helicone-session-id": f"s-{i}",
                f"helicone-property-p{i}": f"v{i}",
            }
        )
        ctx.requested_model = f"made-up-model-{i}"
        m.finished(ctx, "off")
        m.finished(ctx_for(provider="openai", model=f"made-up-model-{i}"), "off")  # a passthrough model

    made_up(0)
    before = len(scrape(m))
    for i in range(1, 1001):
        made_up(i)
    s = scrape(m)
    assert len(s) == before
    assert (
        value(
            s,
            "switchyard_requests_total",
            surface="chat",
            provider="openai",
            model="other",
            status_class="2xx",
            cache="off",
        )
        == 1001
    )
    assert not any("made-up" in v or "user-" in v for _, labels in s for _, v in labels)


def test_upstream_limit_cache_and_redis_events():
    m = Metrics(process=False)
    m.attempt("openai", "ok")
    m.attempt("openai", "timeout")
    m.attempt("openai", "timeout")
    m.retry("openai")
    m.fallback("openai", "timeout")
    m.hedge("started")
    m.hedge("won")
    m.limit("requests", "key", "admitted")
    m.limit("usd", "org", "rejected")
    m.credits_rejected()
    m.credits_rejected()
    m.cache("hit")
    m.cache("miss")
    m.redis_error("get")
    s = scrape(m)
    assert value(s, "switchyard_upstream_attempts_total", provider="openai", outcome="ok") == 1
    assert value(s, "switchyard_upstream_attempts_total", provider="openai", outcome="timeout") == 2
    assert value(s, "switchyard_upstream_retries_total", provider="openai") == 1
    assert value(s, "switchyard_fallbacks_total", provider="openai", reason="timeout") == 1
    assert value(s, "switchyard_hedges_total", outcome="started") == 1
    assert value(s, "switchyard_hedges_total", outcome="won") == 1
    assert (
        value(s, "switchyard_limit_decisions_total", metric="requests", scope="key", decision="admitted") == 1
    )
    assert value(s, "switchyard_limit_decisions_total", metric="usd", scope="org", decision="rejected") == 1
    assert value(s, "switchyard_credits_rejected_total") == 2
    assert value(s, "switchyard_cache_total", result="hit") == 1
    assert value(s, "switchyard_cache_total", result="miss") == 1
    assert value(s, "switchyard_redis_errors_total", op="get") == 1
    assert "switchyard_redis_up" not in names(s)  # no Redis configured: no gauge
    m.set_redis_up(False)
    assert value(scrape(m), "switchyard_redis_up") == 0
    m.set_redis_up(True)
    assert value(scrape(m), "switchyard_redis_up") == 1


def test_zero_counters_and_build_info_before_any_event():
    s = scrape(Metrics(process=False))
    assert value(s, "switchyard_credits_rejected_total") == 0
    assert not any(name.startswith("switchyard_requests") for name in names(s))
    [(labels, v)] = [(dict(lb), v) for (n, lb), v in s.items() if n == "switchyard_build_info"]
    assert v == 1 and labels["version"] == __version__ and labels["python"].startswith("3.")


def test_circuit_state_is_read_from_health_at_scrape_time():
    from switchyard.pipeline.health import Health

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
    assert (
        value(s, "switchyard_circuit_state", endpoint="anthropic:byok") == 2
    )  # BYOK: per provider, no key id
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
    m.finished(ctx_for(), "off")
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


# --- several workers --------------------------------------------------------------------------------------------


def _worker(path: Path, pid: int) -> Metrics:
    m = Metrics(process=False)
    m.shared = SharedFiles(m.local, path)
    m.shared.pid = pid  # stands for another worker process writing its own files
    m.registry = m.shared.registry
    return m


def test_workers_files_merge_into_one_scrape(tmp_path: Path):
    from switchyard.pipeline.health import Health

    path = prepare_dir(tmp_path, "host-127.0.0.1-8787")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a live "worker" pid
    try:
        a, b = _worker(path, os.getpid()), _worker(path, other.pid)
        ha = Health(BreakerSettings(failures=1, open_seconds=10, max_open_seconds=60), lambda: 0.0)
        a.bind_health(ha)
        b.bind_health(Health(BreakerSettings(failures=5, open_seconds=10, max_open_seconds=60), lambda: 0.0))
        ha.failure("openai:ptb", "server")  # open in worker a only
        for _ in range(3):
            a.finished(ctx_for(seconds=0.02, usage=Usage(prompt_tokens=10, completion_tokens=5)), "off")
        for _ in range(4):
            b.finished(ctx_for(seconds=0.2, usage=Usage(prompt_tokens=10, completion_tokens=5)), "off")
        b.set_redis_up(False)
        a.set_redis_up(True)
        b.shared.flush()  # b's periodic flush; a's scrape flushes a itself
        s = scrape(a)
        ok = {
            "surface": "chat",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "status_class": "2xx",
            "cache": "off",
        }
        assert value(s, "switchyard_requests_total", **ok) == 7
        assert value(s, "switchyard_tokens_total", provider="openai", model="gpt-4o-mini", type="input") == 70
        assert value(s, "switchyard_request_duration_seconds_count", surface="chat") == 7
        assert value(s, "switchyard_request_duration_seconds_bucket", surface="chat", le="0.025") == 3
        assert value(s, "switchyard_request_duration_seconds_bucket", surface="chat", le="0.25") == 7
        assert value(s, "switchyard_circuit_state", endpoint="openai:ptb") == 2  # the worst worker's view
        assert value(s, "switchyard_redis_up") == 0  # down in any worker
        assert value(s, "switchyard_build_info", version=__version__, python=sys.version.split()[0]) == 1
        assert scrape(b) == s  # any worker answers the same
        assert (
            "# TYPE switchyard_fallbacks_total counter" in a.render()[0].decode()
        )  # known before any sample
        # scraping twice does not count twice (files hold totals, not increments)
        assert value(scrape(a), "switchyard_requests_total", **ok) == 7
        # worker b dies without its shutdown: its counts stay, its gauges go
        other.kill()
        other.wait()
        s = scrape(a)
        assert value(s, "switchyard_requests_total", **ok) == 7
        assert value(s, "switchyard_redis_up") == 1
    finally:
        other.kill()
        other.wait()


def test_a_clean_worker_shutdown_keeps_counts_and_drops_gauges(tmp_path: Path):
    path = prepare_dir(tmp_path, "h-p")

    async def run() -> None:
        b = _worker(path, os.getpid())
        b.shared.interval = 0.05
        await b.start()
        b.finished(ctx_for(), "off")
        b.set_redis_up(False)
        await asyncio.sleep(0.2)  # the periodic flush wrote the count
        assert any(f.name.startswith("gauge_livemin_") for f in path.iterdir())
        await b.close()

    asyncio.run(run())
    assert not any(f.name.startswith("gauge_") for f in path.iterdir())
    s = parse(b"".join(_render_dir(path)))
    assert (
        value(
            s,
            "switchyard_requests_total",
            surface="chat",
            provider="openai",
            model="gpt-4o-mini",
            status_class="2xx",
            cache="off",
        )
        == 1
    )
    assert "switchyard_redis_up" not in names(s)


def _render_dir(path: Path) -> list[bytes]:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    reg = CollectorRegistry()
    MultiProcessCollector(reg, path=str(path))  # the library's own reader sees the same totals
    return [generate_latest(reg)]


def test_prepare_dir_is_private_and_empty(tmp_path: Path):
    path = prepare_dir(tmp_path, "h-p")
    (path / "counter_1.db").write_bytes(b"old")
    path = prepare_dir(tmp_path, "h-p")
    assert list(path.iterdir()) == []
    assert path.stat().st_mode & 0o777 == 0o700 and path.parent.stat().st_mode & 0o777 == 0o700
