"""Soak benchmark: mixed traffic through one gateway process for a long time; memory must stay flat and no
answered request may be missing from the log.

    .venv/bin/python bench/soak.py [--seconds 600] [--concurrency 16] [--warmup 60] [--postgres URL]

Traffic, chosen per request by weight: plain chat (40%), streamed chat (20%), cache hits from a small set of
prompts (15%), calls over a per-user rate limit (10%, mostly 429), a failing upstream with a fallback chain whose
every item fails (5%, 502), Anthropic messages translated to OpenAI (5%), embeddings (5%). The upstream is the
test suite's loopback mock replaying recorded provider traffic.

RSS of the gateway process is sampled every 10 s from /proc. At the end the log is drained and every request the
gateway answered (any status except the protocol-level refusals) is looked up in the store by its request id.
Prints a table and exits 1 when RSS grew more than 10% after warm-up or a row is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.gateway import GatewayProcess, default_config, free_port
from support.mock_upstream import MockUpstream

USER = [{"role": "user", "content": "hello"}]
KINDS = [
    ("chat", 40),
    ("stream", 20),
    ("cache", 15),
    ("limited", 10),
    ("failing", 5),
    ("messages", 5),
    ("embed", 5),
]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def request_for(kind: str, rng: random.Random) -> tuple[str, dict, dict[str, str]]:
    rid = str(uuid.uuid4())
    h = {"Helicone-Request-Id": rid, "Helicone-User-Id": f"user-{rng.randrange(50)}"}
    if kind == "chat":
        return "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": USER}, h
    if kind == "stream":
        return "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": USER, "stream": True}, h
    if kind == "cache":
        body = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": f"prompt {rng.randrange(20)}"}],
        }
        return "/v1/chat/completions", body, {**h, "Helicone-Cache-Enabled": "true"}
    if kind == "limited":
        return (
            "/v1/chat/completions",
            {"model": "gpt-4o-mini", "messages": USER},
            {
                **h,
                "Helicone-RateLimit-Policy": "2;w=60;s=user",
                "Helicone-User-Id": f"limited-{rng.randrange(3)}",
            },
        )
    if kind == "failing":
        body = {
            "model": "gpt-4o-mini/openai,claude-sonnet-4/anthropic",
            "messages": [{"role": "user", "content": "x [[500]]"}],
        }
        return "/v1/chat/completions", body, h
    if kind == "messages":
        return "/v1/messages", {"model": "gpt-4o-mini", "max_tokens": 32, "messages": USER}, h
    return "/v1/embeddings", {"model": "text-embedding-3-small", "input": "hello"}, h


async def worker(
    client: httpx.AsyncClient, until: float, rng: random.Random, answered: dict[str, int]
) -> None:
    names = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    while time.monotonic() < until:
        kind = rng.choices(names, weights)[0]
        path, body, headers = request_for(kind, rng)
        try:
            if body.get("stream"):
                async with client.stream("POST", path, json=body, headers=headers) as r:
                    async for _ in r.aiter_bytes():
                        pass
            else:
                r = await client.post(path, json=body, headers=headers)
        except httpx.HTTPError:
            continue  # not answered: nothing to find in the log
        answered[headers["Helicone-Request-Id"]] = r.status_code


async def drive(
    gw: GatewayProcess, seconds: float, concurrency: int, warmup: float
) -> tuple[list[tuple[float, int, int]], dict[str, int]]:
    answered: dict[str, int] = {}
    samples: list[tuple[float, int, int]] = []
    assert gw.proc is not None
    start = time.monotonic()
    until = start + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=gw.url, headers=gw.headers(), timeout=30, limits=limits) as client:
        tasks = [
            asyncio.create_task(worker(client, until, random.Random(i), answered)) for i in range(concurrency)
        ]
        while time.monotonic() < until:
            samples.append((time.monotonic() - start, rss_kib(gw.proc.pid), len(answered)))
            await asyncio.sleep(min(10.0, max(0.0, until - time.monotonic())))
        await asyncio.gather(*tasks)
    samples.append((time.monotonic() - start, rss_kib(gw.proc.pid), len(answered)))
    return samples, answered


def missing_rows(gw: GatewayProcess, answered: dict[str, int], db: Path | None) -> list[str]:
    if db is not None:  # SQLite: read the file directly (fast for 100k+ ids)
        deadline = time.monotonic() + 60
        while True:
            with sqlite3.connect(db) as conn:
                have = {r[0] for r in conn.execute("SELECT id FROM requests")}
            lost = [rid for rid in answered if rid not in have]
            if not lost or time.monotonic() > deadline:
                return lost
            time.sleep(1)
    lost = []
    for rid in answered:
        try:
            gw.wait_row(rid, timeout=10)
        except AssertionError:
            lost.append(rid)
    return lost


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--warmup", type=float, default=60)
    ap.add_argument("--postgres", help="PostgreSQL URL (default: the embedded SQLite)")
    args = ap.parse_args()

    upstream = MockUpstream().start()
    home = Path(tempfile.mkdtemp(prefix="switchyard-soak-"))
    extra: dict = {"log": {"flush_interval_ms": 100}}
    if args.postgres:
        extra["database"] = {"url": args.postgres, "schema": f"soak_{uuid.uuid4().hex[:8]}"}
    gw = GatewayProcess(home, default_config(upstream.url, free_port(), **extra))
    gw.prepare()
    gw.start()
    try:
        samples, answered = asyncio.run(drive(gw, args.seconds, args.concurrency, args.warmup))
        gw.stop()  # graceful: the sink drains
        db = None if args.postgres else home / "switchyard.db"
        if args.postgres:
            gw.start()
        lost = missing_rows(gw, answered, db)
    finally:
        gw.stop()
        upstream.stop()

    statuses: dict[int, int] = {}
    for s in answered.values():
        statuses[s] = statuses.get(s, 0) + 1
    print(
        f"\nSoak: {args.seconds:.0f} s, {args.concurrency} connections, {len(answered)} answered "
        f"({len(answered) / args.seconds:.0f} req/s), statuses {dict(sorted(statuses.items()))}"
    )
    print(f"{'t (s)':>8} {'RSS (MiB)':>10} {'answered':>10}")
    for t, kib, n in samples:
        print(f"{t:8.0f} {kib / 1024:10.1f} {n:10d}")
    after_warmup = next((kib for t, kib, _ in samples if t >= args.warmup), samples[-1][1])
    end = samples[-1][1]
    growth = (end - after_warmup) / after_warmup * 100 if after_warmup else 0.0
    print(
        f"\nRSS after warm-up {after_warmup / 1024:.1f} MiB, at the end {end / 1024:.1f} MiB ({growth:+.1f}%); "
        f"peak {max(k for _, k, _ in samples) / 1024:.1f} MiB"
    )
    print(f"rows missing from the log: {len(lost)} of {len(answered)}")
    return 0 if growth <= 10.0 and not lost else 1


if __name__ == "__main__":
    sys.exit(main())
