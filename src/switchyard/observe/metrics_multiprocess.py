"""One scrape for all workers: each worker's totals in prometheus_client's multiprocess files, merged per scrape.

`switchyard serve` points PROMETHEUS_MULTIPROC_DIR at a private directory under $SWITCHYARD_HOME and empties it
at start (`prepare_dir`). Every worker then runs `SharedFiles`:

- flush: this worker's families (observe/metrics.py's collector, the process collector) are written as the
  library's files `counter_<pid>.db`, `histogram_<pid>.db` and `gauge_<mode>_<pid>.db` (MmapedDict, the library's
  own writer and key format). Values are the worker's absolute totals, so a flush is idempotent; each file is
  written whole under a temporary name and renamed, so a reader never sees half a file and series that went away
  (a circuit that closed) go away. Runs every `metrics.flush_interval_ms`, at each scrape this worker answers,
  and at shutdown.
- collect: prometheus_client's `MultiProcessCollector.merge` over every worker's files. Counters and histograms
  are summed; a dead worker's files stay, so totals never go backwards when uvicorn replaces a worker. Gauges use
  the library's `live*` modes (below) and files of a process that no longer exists are dropped (and deleted).

Why not prometheus_client's metric objects in multiprocess mode: they write the mmap on every increment under a
lock; the per-request recording measured about 10× the dict updates (bench/metrics_overhead.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger("switchyard.metrics")

ENV = "PROMETHEUS_MULTIPROC_DIR"

# How a gauge combines across live workers (prometheus_client multiprocess modes); unlisted gauges: livesum.
GAUGE_MODES = {
    "switchyard_circuit_state": "livemax",  # the worst worker's view of the endpoint
    "switchyard_circuit_consecutive_failures": "livemax",
    "switchyard_circuit_byok_keys": "livemax",
    "switchyard_log_spool_files": "livemax",  # one directory shared by every worker: they all report the same
    "switchyard_log_store_up": "livemin",  # 0 when any worker cannot write
    "switchyard_log_spool_up": "livemin",
    "switchyard_redis_up": "livemin",
    "switchyard_limiter_counters": "livemax",  # Redis: the same shared count; memory: the fullest worker
    "switchyard_build_info": "livemax",
    "switchyard_process_start_time_seconds": "livemin",
    "switchyard_process_max_fds": "livemax",
}


def prepare_dir(home: Path, instance: str) -> Path:
    """A private, empty directory for this `serve`: $SWITCHYARD_HOME/prometheus/<instance> (host and port, so
    gateways sharing a home directory on one host, or a volume across containers, never mix their counts)."""
    path = home / "prometheus" / instance
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    return path


class SharedFiles:
    def __init__(self, local: Any, path: str | Path, *, interval: float = 1.0) -> None:
        self.local = local  # the worker's own CollectorRegistry
        self.path = str(path)
        self.interval = interval
        self.pid = os.getpid()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        self._keys: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        self._task: asyncio.Task[None] | None = None
        self._written: set[str] = set()
        self._families: dict[str, tuple[str, str]] = {}  # this worker's families, shown even before a sample

    # --- writing this worker's files ------------------------------------------------------------------------

    def flush(self) -> None:
        files: dict[str, list[tuple[str, float]]] = {}
        families = {}
        for fam in self.local.collect():
            families[fam.name] = (fam.documentation, fam.type)
            if fam.type == "gauge":
                prefix = f"gauge_{GAUGE_MODES.get(fam.name, 'livesum')}"
            elif fam.type in ("counter", "histogram"):
                prefix = fam.type
            else:
                continue
            out = files.setdefault(prefix, [])
            below = 0.0  # histograms: the library's files hold per-bucket counts, the family is cumulative
            for s in fam.samples:
                if s.name.endswith(("_created", "_count")) and fam.type != "gauge":
                    continue  # the merge derives _count from the buckets
                value = s.value
                if fam.type == "histogram" and s.name.endswith("_bucket"):
                    value, below = value - below, value
                    if s.labels.get("le") == "+Inf":
                        below = 0.0
                out.append((self._key(fam, s), value))
        for prefix, values in files.items():
            self._write(f"{prefix}_{self.pid}.db", values)
        for stale in self._written - {f"{p}_{self.pid}.db" for p in files}:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.path, stale))
        self._written = {f"{p}_{self.pid}.db" for p in files}
        self._families = families

    def _key(self, fam: Any, s: Any) -> str:
        labels = tuple(s.labels.items())
        k = (fam.name, s.name, labels)
        key = self._keys.get(k)
        if key is None:
            names = [n for n, _ in labels]
            key = self._keys[k] = mmap_key(fam.name, s.name, names, [v for _, v in labels], fam.documentation)
        return key

    def _write(self, name: str, values: list[tuple[str, float]]) -> None:
        tmp = os.path.join(self.path, f".{name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        d = MmapedDict(tmp)
        try:
            for key, value in values:
                d.write_value(key, value, 0.0)
        finally:
            d.close()
        os.replace(tmp, os.path.join(self.path, name))

    async def start(self) -> None:
        self.flush()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # a full disk must not stop the gateway; the next flush tries again
                log.exception("could not write this worker's metrics to %s", self.path)

    async def close(self) -> None:
        """Last totals to disk; this worker's gauges go (it no longer runs), its counters stay."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            self.flush()
        finally:
            for f in glob.glob(os.path.join(self.path, f"gauge_live*_{self.pid}.db")):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f)

    # --- reading every worker's files -----------------------------------------------------------------------

    def collect(self) -> Any:
        files = []
        for f in glob.glob(os.path.join(self.path, "*.db")):
            parts = os.path.basename(f)[:-3].split("_")
            if parts[0] == "gauge" and not _alive(int(parts[-1])):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f)  # a worker that died without its shutdown: its gauges describe nothing now
                continue
            files.append(f)
        merged = list(MultiProcessCollector.merge(files, accumulate=True))
        seen = {m.name for m in merged}
        # families without a sample yet (no request so far) keep their HELP and TYPE, as in a single process
        merged += [Metric(name, doc, typ) for name, (doc, typ) in self._families.items() if name not in seen]
        return merged


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
