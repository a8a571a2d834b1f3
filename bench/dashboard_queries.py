"""Dashboard query times on a large log, on SQLite and PostgreSQL, and the log writer's rows/s with and without
rollups.

    .venv/bin/python bench/dashboard_queries.py --rows 1000000                     # both backends, fresh stores
    .venv/bin/python bench/dashboard_queries.py --sqlite /path/switchyard.db        # an existing demo-data store
    .venv/bin/python bench/dashboard_queries.py --pg postgresql://postgres@127.0.0.1:5432/test --schema NAME
    .venv/bin/python bench/dashboard_queries.py --writer-only --writer-rows 50000

Each query runs through `stores/insights.py` (what the pages and the REST API call), `--repeat` times; the table
shows the median wall time, the median CPU time of this process (SQLite runs inside it, so on SQLite this is the
server time free of other processes' load) and, on PostgreSQL, the database's own time (EXPLAIN ANALYZE planning +
execution of every statement the query ran), all in ms; and the access path: every statement is EXPLAINed, and
"LOG SCAN" marks one that reads the requests table without an index (there must be none).
Not part of `make test` (it takes minutes); results go in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from switchyard.cli.demo_data import Generator, fill
from switchyard.stores import insights as ins
from switchyard.stores import log_writer, rollup_journal
from switchyard.stores.sql import SQLStore

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


class Statements:
    """Collects the SQL statements a query runs (to EXPLAIN them afterwards)."""

    def __init__(self, store: SQLStore) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.on = False
        event.listen(store.engine.sync_engine, "before_cursor_execute", self._hook)

    def _hook(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        if self.on and not statement.lstrip().upper().startswith("EXPLAIN"):
            self.seen.append((statement, params))


async def explain(store: SQLStore, statements: list[tuple[str, Any]]) -> tuple[list[str], float]:
    """(plans of statements that read `requests` without an index — there must be none; the database's own time
    for all statements in ms: PostgreSQL's EXPLAIN ANALYZE planning + execution time, 0 for SQLite)."""
    bad, server_ms = [], 0.0
    async with store.engine.connect() as conn:
        for sql, params in statements:
            if store.dialect == "sqlite":
                rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)).all()
                if any(str(r[-1]).strip() == "SCAN requests" for r in rows):
                    bad.append(" | ".join(str(r[-1]) for r in rows))
            else:
                plan = " | ".join(
                    str(r[0]) for r in (await conn.exec_driver_sql(f"EXPLAIN {sql}", params)).all()
                )
                if "Seq Scan on requests" in plan:
                    bad.append(plan)
                if sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    doc = (
                        await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
                    ).scalar()
                    doc = doc if isinstance(doc, list) else json.loads(doc)
                    server_ms += doc[0]["Planning Time"] + doc[0]["Execution Time"]
    return bad, server_ms


async def pick(store: SQLStore, org_id: str) -> dict[str, Any]:
    """Real values to filter by: a model, a user, a property, a session and a request of this store."""
    rng = ins.TimeRange.last(30 * 86_400)
    ov = await ins.overview(store, org_id, rng)
    users = await ins.list_users(store, org_id, rng, limit=50)
    sessions = await ins.list_sessions(store, org_id, ins.TimeRange.last(86_400), limit=1)
    page = await ins.list_requests(store, org_id, ins.RequestFilter(), limit=1)
    return {
        "model": ov.models.by_requests[-1].name,
        "user": users.items[-1].user_id,
        "session": sessions.items[0].session_id if sessions.items else "none",
        "request": page.items[0].id if page.items else "none",
    }


def queries(org: str, v: dict[str, Any]) -> list[tuple[str, Any]]:
    now = int(time.time() * 1000)
    day = 86_400_000
    last30 = ins.TimeRange(now - 30 * day, now + 1)
    f30 = {"start_ms": now - 30 * day, "end_ms": now + 1}
    q: list[tuple[str, Any]] = []
    for name, secs in ins.PRESETS.items():
        q.append((f"overview {name}", lambda s, secs=secs: ins.overview(s, org, ins.TimeRange.last(secs))))
    q += [
        ("requests page 1 (30 d)", lambda s: ins.list_requests(s, org, ins.RequestFilter(**f30))),
        ("requests page 3 (cursor)", lambda s: _page(s, org, ins.RequestFilter(**f30), 3)),
        (
            "requests model=(least used)",
            lambda s: ins.list_requests(s, org, ins.RequestFilter(model=v["model"], **f30)),
        ),
        ("requests user=", lambda s: ins.list_requests(s, org, ins.RequestFilter(user_id=v["user"], **f30))),
        ("requests status=5xx", lambda s: ins.list_requests(s, org, ins.RequestFilter(status="5xx", **f30))),
        (
            "requests property tenant=",
            lambda s: ins.list_requests(
                s, org, ins.RequestFilter(properties=(("tenant", "tenant-007"),), **f30)
            ),
        ),
        (
            "requests cache hits",
            lambda s: ins.list_requests(s, org, ins.RequestFilter(cache_hit=True, **f30)),
        ),
        ("request detail", lambda s: ins.request_detail(s, org, v["request"])),
        ("sessions 30 d", lambda s: ins.list_sessions(s, org, last30)),
        ("session trace", lambda s: ins.session_trace(s, org, v["session"])),
        ("users 30 d (by cost)", lambda s: ins.list_users(s, org, last30)),
        ("users 24 h", lambda s: ins.list_users(s, org, ins.TimeRange.last(86_400))),
        ("properties 30 d", lambda s: ins.property_breakdown(s, org, last30, key="feature")),
        ("facets 30 d", lambda s: ins.facets(s, org, last30)),
    ]
    return q


async def _page(store: SQLStore, org: str, f: Any, n: int) -> Any:
    cursor = None
    for _ in range(n):
        page = await ins.list_requests(store, org, f, cursor=cursor)
        cursor = page.next_cursor
    return page


async def bench_queries(
    store: SQLStore, org_id: str, repeat: int
) -> list[tuple[str, float, float, float, str]]:
    """Per query: (name, median wall ms, median CPU ms of this process, database ms, access path)."""
    stmts = Statements(store)
    values = await pick(store, org_id)
    out = []
    for name, fn in queries(org_id, values):
        await fn(store)  # warm
        walls, cpus = [], []
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            await fn(store)
            walls.append((time.perf_counter() - t) * 1000)
            cpus.append((time.process_time() - c) * 1000)
        stmts.seen, stmts.on = [], True
        await fn(store)
        stmts.on = False
        scans, server_ms = await explain(store, stmts.seen)
        out.append(
            (
                name,
                statistics.median(walls),
                statistics.median(cpus),
                server_ms,
                "LOG SCAN" if scans else "index/rollups",
            )
        )
    return out


def live_records(org_id: str, n: int, seed: int, body_bytes: int = 0) -> list[list[dict[str, Any]]]:
    """Live-like traffic: the demo generator's records, stamped over the last minute, in writer batches of 500.
    `body_bytes` > 0: request bodies padded to about that size (a system prompt and history of a real chat app)."""
    gen = Generator(org_id, n, now_ms=int(time.time() * 1000), seed=seed)
    recs = [r for b in gen.records() for r in b]
    now = int(time.time() * 1000)
    pad = "Earlier in this conversation the user and the assistant discussed the account settings. " * (
        body_bytes // 90 + 1
    )
    for i, r in enumerate(recs):
        r["created_at"] = now - 60_000 + i * 60_000 // n
        if body_bytes > len(r["request_body"]):
            r["request_body"] = r["request_body"].replace(
                '"content": "', '"content": "' + pad[: body_bytes - len(r["request_body"])], 1
            )
    return [recs[i : i + 500] for i in range(0, len(recs), 500)]


def _server_cpu(pid: int | None) -> float:
    """CPU seconds of a PostgreSQL backend on this machine (0 for SQLite)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _write_once(
    kind: str, args: argparse.Namespace, tmp: Path, rows: int, rollups_on: bool, seed: int
) -> tuple[float, float, float]:
    """Log `rows` live records on a fresh store, with the rollup step (journal + compaction) or with it switched
    off. Returns (wall s, CPU s incl. the PostgreSQL backend, wall s spent in the rollup step: the journal writes
    inside the writer's transactions plus the compaction)."""
    if kind == "sqlite":
        store = SQLStore(f"sqlite:///{tmp / f'writer-{uuid.uuid4().hex[:8]}.db'}")
    else:
        store = SQLStore(args.pg or PG_URL, schema=f"sy_wbench_{uuid.uuid4().hex[:6]}")
    await store.migrate()
    real = (log_writer.apply_sqlite, log_writer.apply_postgres)
    in_rollups = [0.0]

    async def off(*_: Any) -> None:
        return None

    def timed(fn: Any) -> Any:
        async def wrapper(*a: Any) -> None:
            t = time.perf_counter()
            await fn(*a)
            in_rollups[0] += time.perf_counter() - t

        return wrapper

    try:
        org = await store.create_org("writer")
        batches = live_records(org.id, rows, seed, args.writer_body_bytes)
        async with store.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            pid = await driver.fetchval("SELECT pg_backend_pid()") if kind != "sqlite" else None
            log_writer.apply_sqlite, log_writer.apply_postgres = (
                (timed(real[0]), timed(real[1])) if rollups_on else (off, off)
            )
            try:
                w0, c0, s0 = time.perf_counter(), time.process_time(), _server_cpu(pid)
                for b in batches:  # the sink's own call, on one connection (as the sink's writer task)
                    if kind == "sqlite":
                        await log_writer.insert_sqlite(driver, b)
                    else:
                        await log_writer.insert_postgres(driver, b)
                s1 = _server_cpu(pid)
            finally:
                log_writer.apply_sqlite, log_writer.apply_postgres = real
        compact_srv = 0.0
        if rollups_on:  # the compactor's work is part of the cost
            async with store.engine.connect() as conn:
                cpid = (
                    (
                        await (await conn.get_raw_connection()).driver_connection.fetchval(
                            "SELECT pg_backend_pid()"
                        )
                    )
                    if kind != "sqlite"
                    else None
                )
                before, t = _server_cpu(cpid), time.perf_counter()
                await rollup_journal.compact(store)
                in_rollups[0] += time.perf_counter() - t
                compact_srv = _server_cpu(cpid) - before
        wall = time.perf_counter() - w0
        cpu = time.process_time() - c0 + (s1 - s0) + compact_srv
        return wall, cpu, in_rollups[0]
    finally:
        if kind != "sqlite":
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE')
        await store.close()


async def bench_writer(kind: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Interleaved rounds, each on a fresh store with the same records: best rows/s and CPU µs/row of each
    variant, and the rollup step's share of the with-rollups wall time (median over rounds) — measured within one
    run, so it does not depend on what else the machine is doing."""
    best: dict[str, Any] = {}
    shares = []
    for rnd in range(args.writer_rounds):
        for variant in ("without", "with") if rnd % 2 == 0 else ("with", "without"):
            wall, cpu, rollup_wall = await _write_once(
                kind, args, tmp, args.writer_rows, variant == "with", rnd
            )
            rate, us = args.writer_rows / wall, cpu / args.writer_rows * 1e6
            old = best.get(variant, (0.0, float("inf")))
            best[variant] = (max(old[0], rate), min(old[1], us))
            if variant == "with":
                shares.append(rollup_wall / wall * 100)
    best["share"] = statistics.median(shares)
    return best


async def open_store(kind: str, args: argparse.Namespace, tmp: Path) -> tuple[SQLStore, bool]:
    if kind == "sqlite":
        path = Path(args.sqlite) if args.sqlite else tmp / "bench.db"
        s = SQLStore(f"sqlite:///{path}")
        fresh = not args.sqlite
    else:
        s = SQLStore(args.pg or PG_URL, schema=args.schema or f"sy_bench_{uuid.uuid4().hex[:6]}")
        fresh = not args.schema
    await s.migrate()
    return s, fresh


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="demo rows to fill a fresh store with")
    p.add_argument("--org", default="default")
    p.add_argument("--sqlite", help="an existing SQLite database (skips the fill when the org has rows)")
    p.add_argument("--pg", help="PostgreSQL URL (default: the local test database)")
    p.add_argument("--schema", help="an existing PostgreSQL schema to reuse (kept afterwards)")
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--writer-rows", type=int, default=20_000)
    p.add_argument("--writer-rounds", type=int, default=4)
    p.add_argument("--writer-only", action="store_true")
    p.add_argument(
        "--writer-body-bytes",
        type=int,
        default=0,
        help="pad request bodies to about this many bytes (0: the demo's short bodies)",
    )
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sy-bench-"))
    for kind in args.backends.split(","):
        store, fresh = await open_store(kind, args, tmp)
        try:
            if not args.writer_only:
                org = await store.get_org_by_name(args.org) or await store.create_org(args.org)
                have = (await ins.overview(store, org.id, ins.TimeRange.last(31 * 86_400))).totals.requests
                if have < args.rows:
                    t = time.perf_counter()
                    n = await fill(store, org.id, args.rows - have)
                    print(f"[{kind}] demo-data: {n:,} rows in {time.perf_counter() - t:.0f} s", flush=True)
                    have += n
                print(
                    f"\n[{kind}] {have:,} rows in the last 30 days; median of {args.repeat} runs, ms; load average "
                    f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
                )
                print(f"{'query':34} {'wall':>8} {'cpu':>8} {'db':>8}  access")
                for name, wall, cpu, db, access in await bench_queries(store, org.id, args.repeat):
                    db_col = f"{db:8.1f}" if kind != "sqlite" else f"{'(cpu)':>8}"
                    print(f"{name:34} {wall:8.1f} {cpu:8.1f} {db_col}  {access}", flush=True)
            b = await bench_writer(kind, args, tmp)
            (w_rate, w_us), (o_rate, o_us) = b["with"], b["without"]
            body = (
                f"request bodies ~{args.writer_body_bytes:,} B"
                if args.writer_body_bytes
                else "demo bodies (~0.3 KB)"
            )
            print(
                f"\n[{kind}] writer, {args.writer_rows:,} live rows in batches of 500, {body}, {args.writer_rounds} "
                f"rounds each on a fresh store; load average {os.getloadavg()[0]:.1f}:"
            )
            print(
                f"  without rollups: {o_rate:8,.0f} rows/s  {o_us:6.1f} µs CPU/row (client + database, best)"
            )
            print(
                f"  with rollups:    {w_rate:8,.0f} rows/s  {w_us:6.1f} µs CPU/row (incl. journal compaction, best)"
            )
            print(
                f"  rollup step's share of the writer's time (journal writes + compaction, median): "
                f"{b['share']:.1f} % -> rows/s drop {b['share']:.1f} %",
                flush=True,
            )
        finally:
            if fresh and kind == "postgres":
                async with store.engine.begin() as conn:
                    await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE')
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
