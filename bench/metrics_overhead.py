"""Per-request cost of metric recording on the hot path (µs), four ways:

  old      the previous Metrics: request() + latency() (route/status/provider counter, one histogram)
  new      Metrics.finished(): requests by surface/provider/model/status class/cache, 4 token counters, cost,
           latency histogram, TTFT histogram, one upstream-duration histogram (aggregated in process)
  client   the same series with prometheus_client's own objects (labels() + inc()/observe(), a lock each)
  mmap     the same with prometheus_client in multiprocess mode (each update also writes an mmap file)

plus the cost of one flush of the in-process totals to the multiprocess files (done once a second, not per
request). Run: .venv/bin/python bench/metrics_overhead.py [N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000


def best(fn, n: int, rounds: int = 5) -> float:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - t) / n * 1e6)
    return min(out)


def client_mode(n: int) -> float:
    from prometheus_client import CollectorRegistry, Counter, Histogram

    r = CollectorRegistry()
    b = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
    req = Counter("x_requests", "d", ["surface", "provider", "model", "status_class", "cache"], registry=r)
    tok = Counter("x_tokens", "d", ["provider", "model", "type"], registry=r)
    cost = Counter("x_cost_usd", "d", ["provider", "model"], registry=r)
    lat = Histogram("x_duration_seconds", "d", ["surface"], registry=r, buckets=b)
    ttft = Histogram("x_ttft_seconds", "d", ["surface", "provider"], registry=r, buckets=b)
    up = Histogram("x_upstream_seconds", "d", ["provider"], registry=r, buckets=b)

    def one() -> None:
        req.labels("chat", "openai", "gpt-4o-mini", "2xx", "off").inc()
        for t in ("input", "output", "cached", "reasoning"):
            tok.labels("openai", "gpt-4o-mini", t).inc(12)
        cost.labels("openai", "gpt-4o-mini").inc(0.00012)
        lat.labels("chat").observe(0.0123)
        ttft.labels("chat", "openai").observe(0.004)
        up.labels("openai").observe(0.011)

    return best(one, n)


def main() -> None:
    if len(sys.argv) > 2:  # child: prometheus_client with or without PROMETHEUS_MULTIPROC_DIR
        print(client_mode(N))
        return
    from switchyard.observe.cost import Usage
    from switchyard.observe.metrics import Metrics
    from switchyard.observe.metrics_multiprocess import SharedFiles
    from switchyard.pipeline.context import AttemptLog, RequestContext
    from switchyard.pipeline.headers import parse_helicone

    ctx = RequestContext(path="/v1/chat/completions", helicone=parse_helicone({}))
    ctx.status, ctx.provider, ctx.registry_model, ctx.stream, ctx.ttft_ms = (
        200,
        "openai",
        "gpt-4o-mini",
        True,
        4.0,
    )
    ctx.usage = Usage(prompt_tokens=12, completion_tokens=12, cached_tokens=12, reasoning_tokens=12)
    ctx.cost_usd = 0.00012
    ctx.attempts = [AttemptLog("openai", "gpt-4o-mini", latency_ms=11.0)]
    m = Metrics(process=False, providers={"openai"}, models={"gpt-4o-mini"})
    new = best(lambda: m.finished(ctx, "off"), N)

    old = None
    try:  # the previous implementation, from git
        src = subprocess.run(
            ["git", "show", "cc099e4:src/switchyard/observe/metrics.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        ns: dict = {"__name__": "old_metrics"}
        exec(compile(src, "old_metrics.py", "exec"), ns)
        om = ns["Metrics"](process=False)

        def old_one() -> None:
            om.request(ctx.path, ctx.status, ctx.cache_hit, ctx.provider)
            om.latency(ctx.path, ctx.elapsed_ms() / 1000.0)

        old = best(old_one, N)
    except (subprocess.CalledProcessError, OSError):
        pass

    def child(env: dict) -> float:
        out = subprocess.run(
            [sys.executable, __file__, str(N), "child"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return float(out.stdout)

    plain = child({"PROMETHEUS_MULTIPROC_DIR": ""})
    with tempfile.TemporaryDirectory() as d:
        mmap = child({"PROMETHEUS_MULTIPROC_DIR": d})
        shared = SharedFiles(m.local, d)
        flush = best(shared.flush, 200, rounds=3)
        series = sum(len(f.samples) for f in m.local.collect())
    print(f"requests per run: {N}")
    if old is not None:
        print(f"old  Metrics.request+latency      {old:6.2f} µs/request")
    print(f"new  Metrics.finished             {new:6.2f} µs/request")
    print(f"prometheus_client (lock)          {plain:6.2f} µs/request")
    print(f"prometheus_client multiprocess    {mmap:6.2f} µs/request")
    print(
        f"flush to multiprocess files       {flush / 1000:6.2f} ms per flush ({series} samples; once a second)"
    )


if __name__ == "__main__":
    main()
