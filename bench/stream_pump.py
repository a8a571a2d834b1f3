"""The pass-through stream pump on its own: the benchmark's recorded stream (bench/upstream/stream.sse, 14 events)
through `PassthroughPump` as the gateway runs it for an OpenAI caller of an OpenAI-compatible upstream (SSE decode,
each event parsed for the log's answer and usage, bytes out), in µs per stream, best of five rounds.

    PYTHONPATH=src .venv/bin/python bench/stream_pump.py [STREAMS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from switchyard.pipeline.stream_pumps import PassthroughPump

DATA = (Path(__file__).parent / "upstream" / "stream.sse").read_bytes()


def one() -> bytes:
    pump = PassthroughPump(False, "chat.completion.chunk")
    out = pump.feed(DATA) + pump.close()
    pump.result()
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    for _ in range(200):
        one()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            one()
        best = min(best, (time.perf_counter() - t) / n)
    print(f"{best * 1e6:.1f} µs per stream ({len(DATA)} bytes in, {len(one())} out), best of 5 × {n}")


if __name__ == "__main__":
    main()
