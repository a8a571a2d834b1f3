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
    "support.serve_fork",
]

_context: ForkServerContext | None = None


def _forkserver() -> ForkServerContext:
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _context = ctx
    return _context


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
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
