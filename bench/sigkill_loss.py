"""How many answered requests a SIGKILL loses from the request log, and what the protection costs.

For each configuration (log.write_ahead on/off, log.flush_interval_ms) and rate: start a real `switchyard serve`
(SQLite, one worker) in front of the tests' mock upstream, send non-stream chat requests at a fixed rate for
`--seconds`, SIGKILL the gateway while the load runs, restart it on the same home, and count how many of the
answered requests have a row. Prints one markdown table: answered, rows, lost, the age at kill time of the oldest
lost answer (the effective loss window), and the gateway's CPU per request during the load (user+system from
/proc, the cost of the write-ahead). Optionally (`--lock`) the database is write-locked by another connection
during the load, as by a backup or a long migration: inserts wait, and only the write-ahead saves the records.

Usage: .venv/bin/python bench/sigkill_loss.py [--rates 200,800] [--seconds 4] [--lock] [--configs wa50,wa200,nowa50,nowa200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.gateway import GatewayProcess, default_config, free_port
from support.mock_upstream import MockUpstream

CONFIGS = {  # name → (write_ahead, flush_interval_ms)
    "wa50": (True, 50), "wa200": (True, 200), "nowa50": (False, 50), "nowa200": (False, 200),
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(gw: GatewayProcess, rate: int, seconds: float) -> list[tuple[float, str]]:
    """Open loop: one request every 1/rate s whatever the answers do. Returns (answer time, request id)."""
    answered: list[tuple[float, str]] = []
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "sigkill bench"}]}
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=gw.url, headers=gw.headers(), limits=limits, timeout=30) as client:

        async def one() -> None:
            try:
                r = await client.post("/v1/chat/completions", json=body)
            except httpx.HTTPError:
                return  # cut by the kill
            if r.status_code == 200:
                answered.append((time.monotonic(), r.headers["helicone-id"]))

        tasks = []
        start = time.monotonic()
        n = 0
        while (now := time.monotonic()) - start < seconds:
            due = start + n / rate
            if due > now:
                await asyncio.sleep(due - now)
            tasks.append(asyncio.create_task(one()))
            n += 1
        gw.proc.send_signal(signal.SIGKILL)  # mid-load: requests are still arriving
        killed = time.monotonic()
        await asyncio.gather(*tasks)
    return [(killed - t, rid) for t, rid in answered if t <= killed]


def run(upstream: MockUpstream, name: str, rate: int, seconds: float, lock: bool) -> dict[str, object]:
    write_ahead, flush_ms = CONFIGS[name]
    home = Path(tempfile.mkdtemp(prefix="sy-sigkill-"))
    cfg = default_config(upstream.url, free_port(), log={"write_ahead": write_ahead, "flush_interval_ms": flush_ms})
    gw = GatewayProcess(home, cfg)
    gw.prepare()
    gw.start()
    warm = httpx.post(f"{gw.url}/v1/chat/completions", headers=gw.headers(), timeout=30,
                      json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "warm"}]})
    warm.raise_for_status()
    locker = None
    if lock:
        time.sleep(0.3)
        locker = sqlite3.connect(home / "switchyard.db", timeout=30)
        locker.execute("BEGIN IMMEDIATE")
    cpu0 = cpu_seconds(gw.proc.pid)
    ages: list[tuple[float, str]] = []
    cpu = 0.0

    async def go() -> None:
        nonlocal ages, cpu
        task = asyncio.create_task(drive(gw, rate, seconds))
        while not task.done():  # sample CPU until the kill (the process is gone after it)
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):
                cpu = cpu_seconds(gw.proc.pid) - cpu0
            await asyncio.sleep(0.05)
        ages = task.result()

    asyncio.run(go())
    gw.proc.wait(10)
    if locker is not None:
        locker.rollback()
        locker.close()
    gw.proc = None
    gw.start()
    try:
        ids = [rid for _, rid in ages]
        stored: set[str] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # spooled and write-ahead files are replayed within a second or two
            stored = set()
            for i in range(0, len(ids), 500):
                rows = gw.query({"filter": {"request": {"request_id": {"in": ids[i : i + 500]}}}, "limit": 1000})
                stored |= {r["request_id"] for r in rows}
            if len(stored) == len(ids):
                break
            time.sleep(1.0)
    finally:
        gw.stop()
        shutil.rmtree(home, ignore_errors=True)
    lost = [age for age, rid in ages if rid not in stored]
    return {"config": name, "rate": rate, "answered": len(ages), "rows": len(stored), "lost": len(lost),
            "window_ms": round(max(lost) * 1000) if lost else 0,
            "cpu_us": round(cpu / max(len(ages), 1) * 1e6)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="200,800")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--configs", default="wa50,wa200,nowa50,nowa200")
    ap.add_argument("--lock", action="store_true", help="write-lock the database during the load")
    args = ap.parse_args()
    upstream = MockUpstream().start()
    try:
        rows = [run(upstream, c, int(r), args.seconds, args.lock)
                for r in args.rates.split(",") for c in args.configs.split(",")]
    finally:
        upstream.stop()
    print(f"\nSIGKILL after {args.seconds:g} s of load{' (database write-locked)' if args.lock else ''}:\n")
    print("| config | write-ahead | flush ms | req/s | answered | rows | lost | oldest lost answer (ms) | CPU µs/req |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        wa, flush = CONFIGS[str(r["config"])]
        print(f"| {r['config']} | {'on' if wa else 'off'} | {flush} | {r['rate']} | {r['answered']} | {r['rows']} "
              f"| {r['lost']} | {r['window_ms']} | {r['cpu_us']} |")


if __name__ == "__main__":
    main()
