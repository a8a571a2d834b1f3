"""What OpenTelemetry tracing costs per request, off and on (issue 14: "with telemetry off, no measurable cost").

    .venv/bin/python bench/tracing_overhead.py [--n 2000]

Off: the request path's only tracing code is `if deps.tracing is not None` (nothing of OpenTelemetry is even
imported; tests/unit/test_tracing.py::test_tracing_off_loads_no_opentelemetry_module proves that). Measured here as
that check against the same loop without it. On: recording one finished request with two attempts (three spans)
into a batch processor, as the gateway does after the answer has gone out. Prints a table of medians of 5 runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from switchyard.observe.tracing import Tracing
from unit.test_tracing import _ctx  # the test suite's finished request with two attempts


def off_ns(n: int) -> float:
    class Deps:
        tracing = None

    deps = Deps()

    def with_check() -> float:
        t = time.perf_counter()
        for _ in range(n):
            if deps.tracing is not None:
                raise AssertionError
        return time.perf_counter() - t

    def without() -> float:
        t = time.perf_counter()
        for _ in range(n):
            pass
        return time.perf_counter() - t

    return max(0.0, (min(with_check() for _ in range(5)) - min(without() for _ in range(5))) / n * 1e9)


def on_us(n: int) -> float:
    exp = InMemorySpanExporter()
    tracing = Tracing(
        exp, processor=BatchSpanProcessor(exp, max_queue_size=100_000, schedule_delay_millis=60_000)
    )
    ctx = _ctx({})
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            tracing.record(ctx, {})
        runs.append((time.perf_counter() - t) / n * 1e6)
    tracing.shutdown()
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    n = ap.parse_args().n
    print(f"{'tracing':<10} {'cost per request':>18}")
    print(f"{'off':<10} {off_ns(n * 100):>15.1f} ns")
    print(f"{'on':<10} {on_us(n):>15.1f} µs  (after the answer; 3 spans to a batch processor)")


if __name__ == "__main__":
    main()
