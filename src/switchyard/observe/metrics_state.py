"""Families read from live state at scrape time: circuit breaker, limiter counters, log sink (observe/metrics.py).

Circuit series exist only for endpoints the breaker tracks (an absent endpoint is closed and healthy).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

log = logging.getLogger("switchyard.metrics")

_CIRCUIT_VALUE = {"closed": 0, "half_open": 1, "open": 2}


def circuit_families(rows: list[dict[str, Any]]) -> Iterator[Metric]:
    """Organisations' own keys (BYOK endpoints `provider:byok:<org>:<key id>`) are folded into one series per
    provider, `provider:byok`, with the worst state and the longest failure run among them, plus a count of keys
    per state: labels never name an organisation or a key id (`/metrics` may be scraped by anyone who can reach
    it), and their number stays bounded by the providers. The admin API's /health lists each key."""
    worst: dict[str, tuple[int, int]] = {}  # endpoint label → (state value, consecutive failures)
    byok: dict[tuple[str, str], int] = {}  # (provider, state) → number of tracked BYOK keys
    for row in rows:
        provider, _, rest = row["endpoint"].partition(":")
        value = _CIRCUIT_VALUE.get(row["state"], 0)
        label = row["endpoint"]
        if rest.startswith("byok"):
            label = f"{provider}:byok"
            byok[(provider, row["state"])] = byok.get((provider, row["state"]), 0) + 1
        old = worst.get(label, (0, 0))
        worst[label] = (max(old[0], value), max(old[1], row["consecutive_failures"]))
    state = GaugeMetricFamily(
        "switchyard_circuit_state",
        "Circuit breaker per provider endpoint (BYOK keys: the worst per provider): 0 closed, "
        "1 half-open, 2 open. Endpoints not listed are closed.",
        labels=("endpoint",),
    )
    failures = GaugeMetricFamily(
        "switchyard_circuit_consecutive_failures",
        "Counted failures in a row per provider endpoint (BYOK keys: the longest run per provider).",
        labels=("endpoint",),
    )
    for label, (value, count) in worst.items():
        state.add_metric((label,), value)
        failures.add_metric((label,), count)
    yield state
    yield failures
    if byok:
        keys = GaugeMetricFamily(
            "switchyard_circuit_byok_keys",
            "Organisations' own provider keys the breaker tracks, by provider and state.",
            labels=("provider", "state"),
        )
        for (provider, st), n in byok.items():
            keys.add_metric((provider, st), n)
        yield keys


def limiter_families(limits: Any) -> Iterator[Metric]:
    live = GaugeMetricFamily(
        "switchyard_limiter_counters",
        "Live rate-limit and budget counters: in this process (memory), and in Redis for all replicas "
        "(as of this worker's last Redis call).",
        labels=("backend",),
    )
    for backend, n in limits.live_counters().items():
        live.add_metric((backend,), n)
    yield live
    evictions = CounterMetricFamily(
        "switchyard_limiter_evictions",
        "Per-user and per-property counters dropped to stay under limits.max_segment_counters.",
        labels=("backend",),
    )
    for backend, n in limits.evictions().items():
        evictions.add_metric((backend,), n)
    yield evictions


def sink_families(sink: Any) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "switchyard_log_queue_depth",
        "Request records waiting in memory for the log writer.",
        value=sink.backlog,
    )
    try:
        files = len(sink.spool.pending())
    except OSError as e:  # a scrape must not fail because the spool directory is unreadable
        log.warning("cannot count spool files: %s", e)
    else:
        yield GaugeMetricFamily(
            "switchyard_log_spool_files",
            "Spooled record batches awaiting replay (the spool directory is shared by all workers).",
            value=files,
        )
    yield GaugeMetricFamily(
        "switchyard_log_store_up", "1 while the log store accepts writes.", value=1 if sink.store_up else 0
    )
    yield CounterMetricFamily(
        "switchyard_log_records_written_total", "Request records written to the store.", value=sink.written
    )
    yield CounterMetricFamily(
        "switchyard_log_records_spooled_total",
        "Request records written to the disk spool.",
        value=sink.spooled,
    )
    yield GaugeMetricFamily(
        "switchyard_log_records_at_risk",
        "Request records only in memory (in neither the store nor a spool file): a crash now loses them.",
        value=sink.at_risk,
    )
    yield GaugeMetricFamily(
        "switchyard_log_spool_up",
        "1 while the last write to the disk spool succeeded.",
        value=1 if sink.spool_up else 0,
    )
    yield CounterMetricFamily(
        "switchyard_log_records_overflowed_total",
        "Request records moved to the disk spool because the in-memory queue was full.",
        value=sink.overflowed,
    )
    yield CounterMetricFamily(
        "switchyard_log_records_dropped_total",
        "Request records lost: memory full while the spool failed, or unsaved when the shutdown drain timed out.",
        value=sink.dropped,
    )
    yield CounterMetricFamily(
        "switchyard_log_writer_restarts_total",
        "Log writer or replay task restarts after an unexpected error.",
        value=sink.restarts,
    )
