"""`switchyard serve` with a cProfile switch: SIGUSR1 starts profiling, SIGUSR2 stops it and writes the stats to
$SWITCHYARD_BENCH_PROFILE. So the profile covers exactly the load window, not start-up (imports, YAML, migrations).
Used by bench/profile.sh through switchyard-start.sh; one worker only (the profiler lives in this process)."""

from __future__ import annotations

import cProfile
import os
import runpy
import signal
import sys

profiler = cProfile.Profile()


def start(*_: object) -> None:
    profiler.enable()


def stop(*_: object) -> None:
    profiler.disable()
    profiler.dump_stats(os.environ["SWITCHYARD_BENCH_PROFILE"])


signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
sys.argv = ["switchyard", "serve", *sys.argv[1:]]
runpy.run_module("switchyard.cli", run_name="__main__", alter_sys=True)
