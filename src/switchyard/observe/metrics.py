"""Prometheus metrics for `GET /metrics`: requests, tokens, cost, latency, upstream attempts, limits, breaker and
log-sink state.

Hot path: the gateway runs on one event-loop thread, so events are plain dict and list updates keyed by label
tuples, without locks, turned into Prometheus families only at scrape (or flush) time by a custom collector. One
request costs one `finished()` call (a few dict updates and two bisects); see `bench/metrics_overhead.py`.
prometheus_client's own metric objects take a lock per update and, in multiprocess mode, also write an mmap
file per update: measured here about 10× the cost of these dict updates (numbers in the bench's docstring).

Labels come only from bounded sets: the surface (the route's API), the registry's providers and models (anything
else is `other`: a passthrough model name or a cached answer from an unknown provider), status classes, cache
results and the gateway's own outcome kinds. Never a caller's user, session, property, key or made-up model.

Workers. `switchyard serve` sets PROMETHEUS_MULTIPROC_DIR to a private directory (emptied at start); each worker
then writes its totals into prometheus_client's multiprocess file format there every `metrics.flush_interval_ms`
(and at scrape and shutdown), and a scrape answered by any worker merges every worker's files
(`metrics_multiprocess.py`): counters and histograms sum over all workers (a dead worker's last totals stay),
gauges combine per the library's live modes (queue depths sum, breaker state is the worst worker's, "up" gauges
the lowest), and a dead worker's gauges are dropped. Other workers' values are at most one flush interval old.
Without the variable (tests, an embedded gateway) the scrape reads this process's own counters directly.
"""

from __future__ import annotations

import bisect
import os
import platform
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)

from .. import __version__
from .metrics_families import (
    LATENCY_BUCKETS,
    STATUS_CLASS,
    SURFACES,
    TOKEN_TYPES,
    TTFT_BUCKETS,
    Histogram,
    counter,
    histogram,
    single,
)
from .metrics_multiprocess import ENV, SharedFiles
from .metrics_state import circuit_families, limiter_families, sink_families


class Metrics:
    def __init__(
        self,
        *,
        latency_buckets: tuple[float, ...] = LATENCY_BUCKETS,
        process: bool = True,
        providers: Iterable[str] | None = None,
        models: Iterable[str] | None = None,
    ) -> None:
        self._buckets = latency_buckets
        # (surface, provider, model, status class, cache) → [requests, input, output, cached, reasoning, cost USD]
        self._requests: dict[tuple[str, str, str, str, str], list[Any]] = {}
        self._slots: dict[
            tuple[Any, ...], tuple[list[Any], Histogram, Histogram]
        ] = {}  # raw values → counters
        self._latency: dict[str, Histogram] = {}
        self._ttft: dict[tuple[str, str], Histogram] = {}
        self._upstream: dict[str, Histogram] = {}
        self._attempts: dict[tuple[str, str], int] = {}
        self._retries: dict[str, int] = {}
        self._fallbacks: dict[tuple[str, str], int] = {}
        self._hedges: dict[str, int] = {}
        self._limits: dict[tuple[str, str, str], int] = {}
        self._credits_rejected = 0
        self._cache: dict[str, int] = {}
        self._redis_errors: dict[str, int] = {}
        self._redis_up: bool | None = None  # None: no Redis configured, the gauge is not exported
        self._providers = frozenset(providers) if providers is not None else None  # None: not checked (tests)
        self._models = frozenset(models) if models is not None else None
        self._health: Any = None
        self._sink: Any = None
        self._limiter: Any = None
        self.local = CollectorRegistry(auto_describe=False)  # this process's families
        self.local.register(self)  # a custom collector: collect() below runs per scrape or flush
        if process:  # CPU, memory, open fds of this worker (Linux /proc; nothing elsewhere)
            ProcessCollector(namespace="switchyard", registry=self.local)
        self.registry: Any = self.local  # what a scrape renders (all workers' files in multiprocess mode)
        self.shared: Any = None  # metrics_multiprocess.SharedFiles when the gateway runs with that directory

    @classmethod
    def build(cls, settings: Any, registry: Any) -> Metrics:
        """The gateway's metrics: labels bounded by the registry; multiprocess files when `serve` set them up."""
        m = cls(providers=registry.providers, models=registry.models)
        path = os.environ.get(ENV)
        if path:
            m.shared = SharedFiles(m.local, path, interval=settings.metrics.flush_interval_ms / 1000)
            m.registry = m.shared.registry
        return m

    async def start(self) -> None:
        if self.shared is not None:
            await self.shared.start()

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()

    # --- events (hot path) ----------------------------------------------------------------------------------

    def finished(self, ctx: Any, cache: str) -> None:
        """One answered request (any status). `cache`: "hit", "miss" or "off" (caching not asked for)."""
        raw = (ctx.path, ctx.provider, ctx.registry_model, ctx.status, cache)
        slot = self._slots.get(raw)
        if slot is None:
            slot = self._slot(raw)
        row, latency, ttft = slot
        row[0] += 1
        if cache != "hit":  # a cached answer used no provider tokens and cost nothing
            usage = ctx.usage
            if usage is not None:
                row[1] += usage.prompt_tokens
                row[2] += usage.completion_tokens
                row[3] += usage.cached_tokens
                row[4] += usage.reasoning_tokens
            if ctx.cost_usd:
                row[5] += ctx.cost_usd
        seconds = time.perf_counter() - ctx.started
        latency.counts[bisect.bisect_left(self._buckets, seconds)] += 1
        latency.total += seconds
        if ctx.stream and ctx.ttft_ms is not None:
            seconds = ctx.ttft_ms / 1000.0
            ttft.counts[bisect.bisect_left(TTFT_BUCKETS, seconds)] += 1
            ttft.total += seconds
        for a in ctx.attempts:
            if a.latency_ms is not None and a.kind != "cancelled":
                h = self._upstream.get(a.provider)
                if h is None:
                    h = self._upstream_hist(a.provider)
                seconds = a.latency_ms / 1000.0
                h.counts[bisect.bisect_left(self._buckets, seconds)] += 1
                h.total += seconds

    def _slot(self, raw: tuple[Any, ...]) -> tuple[list[Any], Histogram, Histogram]:
        """The counters of one raw (path, provider, model, status, cache) tuple, found once per tuple. Values
        outside the bounded sets fold to `other` and are not remembered (so they cannot grow the cache)."""
        path, provider, model, status, cache = raw
        surface = SURFACES.get(path, "other")
        folded = surface == "other"
        if provider is None:
            provider = "none"
        elif self._providers is not None and provider not in self._providers:
            provider, folded = "other", True
        if model is None or (self._models is not None and model not in self._models):
            model = "none" if provider == "none" else "other"
            folded = folded or model == "other"
        cls = status // 100
        key = (surface, provider, model, STATUS_CLASS[cls if 0 < cls < 6 else 0], cache)
        row = self._requests.get(key)
        if row is None:
            row = self._requests[key] = [0, 0, 0, 0, 0, 0.0]
        latency = self._latency.get(surface)
        if latency is None:
            latency = self._latency[surface] = Histogram(len(self._buckets))
        ttft = self._ttft.get((surface, provider))
        if ttft is None:
            ttft = self._ttft[(surface, provider)] = Histogram(len(TTFT_BUCKETS))
        slot = (row, latency, ttft)
        if not folded:
            self._slots[raw] = slot
        return slot

    def _upstream_hist(self, provider: str) -> Histogram:
        if self._providers is not None and provider not in self._providers:
            provider = "other"  # not remembered under the made-up name
            h = self._upstream.get(provider)
            if h is None:
                h = self._upstream[provider] = Histogram(len(self._buckets))
            return h
        h = self._upstream[provider] = Histogram(len(self._buckets))
        return h

    def attempt(self, provider: str, outcome: str) -> None:
        """One upstream attempt; `outcome` is "ok" or the UpstreamError kind."""
        k = (provider, outcome)
        self._attempts[k] = self._attempts.get(k, 0) + 1

    def retry(self, provider: str) -> None:
        self._retries[provider] = self._retries.get(provider, 0) + 1

    def fallback(self, provider: str, reason: str) -> None:
        """The executor left a failed attempt on `provider` for the next one of the plan (`reason`: the kind)."""
        k = (provider, reason)
        self._fallbacks[k] = self._fallbacks.get(k, 0) + 1

    def hedge(self, outcome: str) -> None:
        """One of "started", "won"."""
        self._hedges[outcome] = self._hedges.get(outcome, 0) + 1

    def limit(self, metric: str, scope: str, decision: str) -> None:
        """One rate-limit or budget rule checked at admission: `metric` requests/tokens/usd, `scope` key/org/
        user/property/policy, `decision` admitted/rejected/unavailable."""
        k = (metric, scope, decision)
        self._limits[k] = self._limits.get(k, 0) + 1

    def credits_rejected(self) -> None:
        self._credits_rejected += 1

    def cache(self, result: str) -> None:
        """One of "hit", "miss", "store", "error"."""
        self._cache[result] = self._cache.get(result, 0) + 1

    def redis_error(self, op: str) -> None:
        self._redis_errors[op] = self._redis_errors.get(op, 0) + 1

    def set_redis_up(self, up: bool) -> None:
        self._redis_up = up

    # --- state read at scrape time --------------------------------------------------------------------------

    def bind_health(self, health: Any) -> None:
        """Export `health.snapshot()` (pipeline/health.py) on every scrape."""
        self._health = health

    def bind_sink(self, sink: Any) -> None:
        """Export the log sink's queue depth, spool files and write counters (observe/sink.py)."""
        self._sink = sink

    def bind_limits(self, limits: Any) -> None:
        """Export the limiter's live counters and evictions (`limits.live_counters()`, `limits.evictions()`)."""
        self._limiter = limits

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition body and its content type; OpenMetrics when the scraper's Accept header asks for it,
        else the classic text format (0.0.4). In multiprocess mode this worker's files are refreshed first."""
        if self.shared is not None:
            self.shared.flush()
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    # --- families -------------------------------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "switchyard_requests",
            "Requests answered, by surface, provider, registry model, status class and cache result "
            "(off: caching not asked for).",
            labels=("surface", "provider", "model", "status_class", "cache"),
        )
        tokens: dict[tuple[str, str, str], int] = {}
        cost: dict[tuple[str, str], float] = {}
        for key, row in self._requests.items():
            requests.add_metric(key, row[0])
            pm = (key[1], key[2])
            for i, kind in enumerate(TOKEN_TYPES, 1):
                if row[i]:
                    tk = (*pm, kind)
                    tokens[tk] = tokens.get(tk, 0) + row[i]
            if row[5]:
                cost[pm] = cost.get(pm, 0.0) + row[5]
        yield requests
        yield counter(
            "switchyard_tokens",
            "Provider tokens by provider, registry model and type (input includes cached; output includes "
            "reasoning). Cache hits are not counted.",
            ("provider", "model", "type"),
            tokens,
        )
        yield counter(
            "switchyard_cost_usd",
            "Cost of answered requests in US dollars (registry prices; unpriced calls add nothing).",
            ("provider", "model"),
            cost,
        )
        yield histogram(
            "switchyard_request_duration_seconds",
            "Time from request start to the last byte sent, by surface.",
            ("surface",),
            self._latency,
            self._buckets,
        )
        yield histogram(
            "switchyard_time_to_first_token_seconds",
            "Streams: time from request start to the first content sent to the caller.",
            ("surface", "provider"),
            self._ttft,
            TTFT_BUCKETS,
        )
        yield histogram(
            "switchyard_upstream_duration_seconds",
            "Upstream attempts: time until the provider answered (a stream: its first content), "
            "failures included.",
            ("provider",),
            self._upstream,
            self._buckets,
        )
        yield counter(
            "switchyard_upstream_attempts",
            "Upstream attempts by provider and outcome (ok or the error kind).",
            ("provider", "outcome"),
            self._attempts,
        )
        yield counter(
            "switchyard_upstream_retries",
            "Retries of an upstream attempt.",
            ("provider",),
            single(self._retries),
        )
        yield counter(
            "switchyard_fallbacks",
            "Moves from a failed attempt to the next one of the plan, by the "
            "failed attempt's provider and error kind.",
            ("provider", "reason"),
            self._fallbacks,
        )
        yield counter(
            "switchyard_hedges",
            "Hedged requests: started (a parallel attempt), won (a hedge answered first).",
            ("outcome",),
            single(self._hedges),
        )
        yield counter(
            "switchyard_limit_decisions",
            "Rate-limit and budget rules checked at admission, by "
            "metric (requests, tokens, usd), scope and decision (admitted, rejected: the rule that "
            "blocked, unavailable: the limit store was down and limits fail closed).",
            ("metric", "scope", "decision"),
            self._limits,
        )
        yield CounterMetricFamily(
            "switchyard_credits_rejected",
            "Requests refused for insufficient credits.",
            value=self._credits_rejected,
        )
        yield counter(
            "switchyard_cache",
            "Response cache operations: hit, miss, store, error.",
            ("result",),
            single(self._cache),
        )
        yield counter(
            "switchyard_redis_errors",
            "Failed Redis operations, by operation.",
            ("op",),
            single(self._redis_errors),
        )
        if self._redis_up is not None:
            yield GaugeMetricFamily(
                "switchyard_redis_up",
                "1 if the last Redis operation succeeded.",
                value=1 if self._redis_up else 0,
            )
        info = GaugeMetricFamily(
            "switchyard_build_info",
            "Always 1; the version of the gateway and of Python.",
            labels=("version", "python"),
        )
        info.add_metric((__version__, platform.python_version()), 1)
        yield info
        if self._health is not None:
            yield from circuit_families(self._health.snapshot())
        if self._sink is not None:
            yield from sink_families(self._sink)
        if self._limiter is not None:
            yield from limiter_families(self._limiter)
