"""Summarise a cProfile of the gateway: own time per package (switchyard's per module), and the top functions,
in µs per request. Usage: profile_summary.py STATS_FILE REQUESTS"""

from __future__ import annotations

import pstats
import sys
from collections import defaultdict


def area(filename: str) -> str:
    if "/switchyard/" in filename:
        tail = filename.split("/switchyard/", 1)[1]
        return "switchyard." + tail.removesuffix(".py").replace("/", ".")
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith("~") or filename == "":
        return "builtins (C)"
    if "/lib/python3" in filename:
        return "stdlib." + filename.rsplit("/lib/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    return filename


def main() -> None:
    stats = pstats.Stats(sys.argv[1])
    n = max(int(sys.argv[2]), 1)
    per: dict[str, float] = defaultdict(float)
    rows = []
    total = 0.0
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        a = area(filename)
        if a == "builtins (C)" and name in ("<method 'run' of 'Context' objects>",):
            continue
        if name.startswith("<method 'poll'") or name.startswith("<method 'select'") or "epoll" in name:
            a = "idle (waiting in select/poll)"
        per[a] += tottime
        if not a.startswith("idle"):
            total += tottime
        rows.append((tottime, ncalls, cumtime, f"{a}:{line}({name})"))
    print(
        f"\n{n} requests; CPU under the profiler: {total / n * 1e6:.0f} µs/request (the profiler adds ~2x)\n"
    )
    print("| area (own time) | µs/request | share |\n|---|---:|---:|")
    for a, t in sorted(per.items(), key=lambda x: -x[1])[:30]:
        if a.startswith("idle"):
            continue
        print(f"| {a} | {t / n * 1e6:.1f} | {100 * t / total:.1f}% |")
    print(
        "\n| function (top by own time) | calls/request | own µs/request | cumulative µs/request |\n|---|---:|---:|---:|"
    )
    for tottime, ncalls, cumtime, label in sorted(rows, reverse=True)[:30]:
        if "idle" in label:
            continue
        print(f"| {label} | {ncalls / n:.2f} | {tottime / n * 1e6:.1f} | {cumtime / n * 1e6:.1f} |")


if __name__ == "__main__":
    main()
