"""A Stripe call that hangs never holds the process at exit (review finding S1, docs/security.md §9).

The meter runs the blocking stripe client off the event loop. On Python 3.11, `asyncio.run` joins the loop's default
executor with no time limit and the interpreter joins every worker thread at exit, so a call made through
`asyncio.to_thread` kept a stopping gateway alive for the whole HTTP timeout (× the client's retries) after the
meter's task was cancelled. The call now runs in a daemon thread that nobody joins."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

PROGRAM = """
import asyncio, sys
from switchyard.observe.stripe_client import MeterEvent, StripeMeterClient

async def main():
    c = StripeMeterClient("sk_test_" + "x" * 24, api_base=sys.argv[1], max_network_retries=0, timeout=20)
    task = asyncio.ensure_future(c.send(MeterEvent("sy_1_a", "e", "cus_1", 1, 1, "org", 0)))
    await asyncio.sleep(1.0)  # the request is written; Stripe (a silent socket) never answers
    task.cancel()  # what StripeMeter.close() does to the round waiting on it
    print("cancelled", flush=True)

asyncio.run(main())
"""


def test_a_hanging_stripe_call_does_not_hold_the_process_at_exit() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:  # accept and never answer
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # waits for the imports (slow on a loaded machine) and the cancel
        assert line.strip() == "cancelled", proc.stderr.read() if proc.stderr else ""
        cancelled = time.monotonic()
        proc.wait(timeout=60)
        took = time.monotonic() - cancelled
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
        for c in held:
            c.close()
    assert held, "the stripe client never connected"
    assert proc.returncode == 0
    assert took < 10, f"the process took {took:.1f} s to exit after the meter was stopped (HTTP timeout 20 s)"
