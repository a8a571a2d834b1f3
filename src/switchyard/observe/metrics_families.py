"""The shapes of the request metrics (`observe/metrics.py`): their bounded label sets, bucket bounds, the histogram
accumulator updated on the hot path, and the Prometheus families built from plain dicts at scrape time."""

from __future__ import annotations

from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

# Whole-request seconds, streams included (a long stream lands in the upper buckets).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

_PATHS = {
    "/chat/completions": "chat",
    "/completions": "completions",
    "/messages": "messages",
    "/responses": "responses",
    "/embeddings": "embeddings",
    "/messages/count_tokens": "count_tokens",
}
# Every spelling the proxy answers (app._proxy_routes): with and without /v1 and a trailing slash.
SURFACES = {p: s for path, s in _PATHS.items() for p in (path, path + "/", "/v1" + path, "/v1" + path + "/")}
STATUS_CLASS = ("other", "1xx", "2xx", "3xx", "4xx", "5xx")
TOKEN_TYPES = ("input", "output", "cached", "reasoning")


class Histogram:
    """Observations per bucket (not cumulative; the last is +Inf) and their sum: two list/float updates each."""

    __slots__ = ("counts", "total")

    def __init__(self, n: int) -> None:
        self.counts = [0] * (n + 1)  # per bucket, not cumulative; the last one is +Inf
        self.total = 0.0


def single(d: dict[str, int]) -> dict[tuple[str], int]:
    """One-label series keyed by the bare value, as `counter` wants them."""
    return {(k,): v for k, v in d.items()}


def counter(name: str, doc: str, labels: tuple[str, ...], values: dict[Any, Any]) -> CounterMetricFamily:
    fam = CounterMetricFamily(name, doc, labels=labels)
    for key, n in values.items():
        fam.add_metric(key, n)
    return fam


def histogram(
    name: str, doc: str, labels: tuple[str, ...], hists: dict[Any, Histogram], buckets: tuple[float, ...]
) -> HistogramMetricFamily:
    fam = HistogramMetricFamily(name, doc, labels=labels)
    bounds = [*(floatToGoString(b) for b in buckets), "+Inf"]
    for key, h in hists.items():
        if not any(h.counts):
            continue  # e.g. the TTFT histogram of a surface that had no stream yet
        cumulative, running = [], 0
        for le, n in zip(bounds, h.counts, strict=True):
            running += n
            cumulative.append((le, running))
        fam.add_metric(key if isinstance(key, tuple) else (key,), cumulative, h.total)
    return fam
