"""`switchyard` management commands run in the test's own process: the console script's function
(`switchyard.cli:main`) with the environment, standard input, output and exit status a subprocess would have,
without a new interpreter and its imports for every command.

What only a real process shows — the console script itself, a `serve` that starts, signals, a second process
reading the same home — stays tested with subprocesses (test_cli_and_keys, test_startup_secrets, test_migration_doc,
the gateways every e2e test starts). A `serve` that must refuse to start (a bad configuration, a short or foreign
master key) is the same function up to its refusal: `refused_serve` runs it here, and fails the test, instead of
serving, if the command gets past its checks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn
from unittest import mock

from switchyard.cli import main

_one_at_a_time = threading.Lock()  # os.environ and sys.stdin/stdout/stderr are the process's own


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _exit_status(e: SystemExit, stderr: io.StringIO) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=stderr)  # sys.exit("message"), as the interpreter would print it
    return 1


def _began_serving(*args: Any) -> NoReturn:
    raise AssertionError(
        "`switchyard serve` passed its start-up checks and began serving instead of refusing"
    )


def _run(argv: list[str], env: Mapping[str, str], stdin: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with _one_at_a_time, _environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        saved_stdin, sys.stdin = sys.stdin, io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
        try:
            with contextlib.ExitStack() as no_serving:
                if (
                    argv[0] == "serve"
                ):  # refused_serve: one worker serves here, several exec a new interpreter
                    no_serving.enter_context(mock.patch("switchyard.cli.serving.run", _began_serving))
                    no_serving.enter_context(mock.patch.object(os, "execv", _began_serving))
                code = main(argv)
        except SystemExit as e:  # argparse's usage errors
            code = _exit_status(e, err)
        finally:
            sys.stdin = saved_stdin
    return subprocess.CompletedProcess(["switchyard", *argv], code, out.getvalue(), err.getvalue())


def run_cli(
    args: Sequence[str], *, env: Mapping[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`switchyard ARGS` with exactly `env` as its environment (default: this process's) and `stdin` as its input;
    the answer has the returncode, stdout and stderr of the command."""
    argv = [str(a) for a in args]
    assert argv and argv[0] != "serve", "serve needs a process of its own (support.gateway.GatewayProcess)"
    return _in_a_thread_if_a_loop_runs(argv, os.environ if env is None else env, stdin)


def refused_serve(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`switchyard serve ARGS` with exactly `env` as its environment, for a start that must be refused: its exit
    status and output up to the refusal. Had it begun serving, the test fails (AssertionError) instead."""
    return _in_a_thread_if_a_loop_runs(["serve", *map(str, args)], env, "")


def _in_a_thread_if_a_loop_runs(
    argv: list[str], env: Mapping[str, str], stdin: str
) -> subprocess.CompletedProcess[str]:
    env = dict(env)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(argv, env, stdin)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the command runs its own event loop
        return pool.submit(_run, argv, env, stdin).result()
