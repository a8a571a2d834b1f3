"""`switchyard serve` processes forked from an interpreter that has already imported the gateway.

A gateway process started with `switchyard serve` spends ~1.4 s of CPU before it answers, nearly all of it importing
(SQLAlchemy, pydantic, Starlette, uvicorn, the app's modules); the suite starts ~100 of them. multiprocessing's
forkserver imports those modules once per pytest-xdist worker; each gateway is then a fork of it that runs
`switchyard.cli.main(["serve"])` with the gateway's own environment, working directory and log file: the same
start-up (settings, migrations check, first key, uvicorn, lifespan), its own pid, sockets, signals and exit status
— ~0.4 s of CPU instead of ~1.4 s. What it skips is the interpreter's start and the imports; the tests whose point is
the `switchyard` console script itself start it with exec (`GatewayProcess(..., exec=True)`, test_cli_and_keys,
test_startup_secrets, test_serving_imports).

Nothing that is preloaded reads the environment or starts a thread at import (settings, proxies and the metrics
directory are read when the gateway starts); `random` reseeds in a fork, and switchyard's per-process tokens are
redrawn (ids.py, observe/spool.py: os.register_at_fork).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from multiprocessing.context import ForkServerContext
from pathlib import Path

# what `switchyard serve` imports before it answers (cli, the store, the app with its routes, uvicorn and its loop)
PRELOAD = [
    "switchyard.cli",
    "switchyard.cli.server",
    "switchyard.cli.serving",
    "switchyard.app",
    "switchyard.api.server_limits",
    "uvicorn",
    "uvicorn.lifespan.on",
    "uvicorn.loops.uvloop",
    "uvloop",
    # what its lifespan and first requests import (the providers' modules, the SQLite driver, the registry's data)
    "aiosqlite",
    "encodings.idna",
    "switchyard.providers.azure",
    "switchyard.providers.bedrock",
    "switchyard.providers.gemini",
    "switchyard.providers.openai",
    "switchyard.providers.vertex",
    "switchyard.registry",
    "support.serve_fork",
]

_context: ForkServerContext | None = None


def _forkserver() -> ForkServerContext:
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _context = ctx
        atexit.register(shutdown)  # conftest's pytest_unconfigure calls it first
    return _context


def shutdown() -> None:
    """Stop what is left of this process's gateways, then the forkserver, and reap it: its CPU and that of every
    gateway it forked (reaped by it) count in this process's children (`time make test`, conftest's CPU log) instead
    of going to init with an orphan."""
    global _context
    if _context is None:
        return
    for p in multiprocessing.active_children():
        p.terminate()
        p.join(30)
    from multiprocessing import forkserver

    forkserver._forkserver._stop()  # closes its "alive" pipe and waits for it
    _context = None


def _serve(argv: list[str], env: dict[str, str], cwd: str, log_path: str) -> None:
    """The forked child: the gateway's environment, directory and output, then `switchyard ARGV` as the console
    script runs it (its exit status is the process's)."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    from switchyard.cli import main

    sys.argv = ["switchyard", *argv]
    sys.exit(main(argv))


_TICK = os.sysconf("SC_CLK_TCK")
_cpu_seen: dict[int, float] = {}  # pid -> the CPU seconds last read from /proc, for gateways still running


def forked_cpu() -> float:
    """CPU seconds of the gateways forked so far, as last seen (before each signal and wait): the forkserver, not
    this process, reaps them, so conftest's CPU log adds this to this process's own and its reaped children's."""
    return sum(_cpu_seen.values())


def _look(pid: int) -> None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return
    _cpu_seen[pid] = max(_cpu_seen.get(pid, 0.0), (int(fields[11]) + int(fields[12])) / _TICK)


class ForkedProcess:
    """The part of subprocess.Popen's interface the tests use, for a gateway forked by the forkserver."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self._process = _forkserver().Process(
            target=_serve, args=(list(argv), dict(env), os.getcwd(), str(log_path)), daemon=True
        )
        self._process.start()
        assert self._process.pid is not None
        self.pid: int = self._process.pid
        self.args = ["switchyard", *argv]

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        _look(self.pid)
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self._process.exitcode is None:
            _look(self.pid)
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
