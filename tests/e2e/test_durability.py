"""Nothing is lost: requests answered during a graceful shutdown, or while the store is down, are all logged."""

from __future__ import annotations

import concurrent.futures as cf
import shutil
import signal
import sqlite3
import stat
import time

import httpx
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.services import drop_schema, fresh_schema, require_postgres
from support.tcp_proxy import TcpProxy


def _chat(gw: GatewayProcess, content: str, stream: bool = False) -> tuple[int, str]:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], "stream": stream}
    with httpx.Client(timeout=30) as c:
        r = c.post(f"{gw.url}/v1/chat/completions", json=body, headers=gw.headers())
        if stream:
            assert r.text.rstrip().endswith("data: [DONE]")
        return r.status_code, r.headers.get("helicone-id", "")


def test_sigterm_with_requests_in_flight_loses_no_row(upstream, tmp_path):
    gw = GatewayProcess(tmp_path / "gw", default_config(upstream.url, free_port()))
    gw.prepare()
    gw.start()
    before = len(upstream.seen)
    with cf.ThreadPoolExecutor(24) as pool:
        futures = [pool.submit(_chat, gw, "[[slow]] in flight", i % 3 == 0) for i in range(24)]
        deadline = time.monotonic() + 20
        while len(upstream.seen) < before + 24 and time.monotonic() < deadline:
            time.sleep(0.01)  # wait until every request has reached the (slow) upstream: all are in flight
        assert len(upstream.seen) >= before + 24, "the requests did not all reach the upstream"
        gw.proc.send_signal(signal.SIGTERM)
        results = [f.result() for f in futures]
    # uvicorn re-raises the signal after its graceful shutdown, so "killed by SIGTERM" is the clean exit here
    assert gw.proc.wait(30) in (0, -signal.SIGTERM)
    ok = [rid for status, rid in results if status == 200]
    assert len(ok) == 24, f"graceful shutdown must finish in-flight requests: {results}"

    gw.start()  # same home, same SQLite file
    try:
        rows = gw.query({"filter": {"request": {"request_id": {"in": ok}}}, "limit": 100})
        assert sorted(r["request_id"] for r in rows) == sorted(ok)
        assert all(r["response_status"] == 200 and r["total_tokens"] for r in rows)
    finally:
        gw.stop()


@pytest.mark.postgres
def test_store_outage_spools_and_replays(upstream, tmp_path):
    pg_url = require_postgres()
    schema = fresh_schema("sy_outage")
    proxy = TcpProxy("127.0.0.1", 5432, free_port()).start()
    url = pg_url.replace(":5432/", f":{proxy.port}/")
    gw = GatewayProcess(
        tmp_path / "gw", default_config(upstream.url, free_port(), database={"url": url, "schema": schema})
    )
    try:
        gw.prepare()
        gw.start()
        assert _chat(gw, "warm the key cache")[0] == 200
        assert httpx.get(f"{gw.url}/readyz").status_code == 200

        proxy.cut()
        during = [_chat(gw, "store is down", stream=i % 2 == 0) for i in range(10)]
        assert all(status == 200 for status, _ in during), "answers keep flowing while the store is down"
        assert httpx.get(f"{gw.url}/readyz").status_code == 503
        # the writer's first insert attempt fails and hands its batch to the replay queue on disk (it waits up to
        # log insert_delay, 250 ms, for a fuller batch: the records are in their write-ahead files meanwhile)
        deadline = time.monotonic() + 10
        while not list((gw.home / "spool").glob("*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list((gw.home / "spool").glob("*.jsonl")), "records wait on disk while the store is down"

        proxy.restore()
        ids = [rid for _, rid in during]
        deadline = time.monotonic() + 20
        rows: list = []
        while time.monotonic() < deadline:
            rows = gw.query({"filter": {"request": {"request_id": {"in": ids}}}, "limit": 100})
            if len(rows) == len(ids):
                break
            time.sleep(0.2)
        assert sorted(r["request_id"] for r in rows) == sorted(ids)
        assert httpx.get(f"{gw.url}/readyz").status_code == 200
        assert not list((gw.home / "spool").glob("*.jsonl"))
    finally:
        gw.stop()
        proxy.close()
        drop_schema(schema)


def _metric(gw: GatewayProcess, name: str) -> float:
    for line in httpx.get(f"{gw.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def _wait_rows(gw: GatewayProcess, ids: list[str], timeout: float = 30) -> list[dict]:
    """The rows of `ids` once all are stored (or whatever is there at the deadline); asked 500 ids at a time, since
    a query filter holds at most 1,000 conditions and a page at most 1,000 rows."""
    deadline = time.monotonic() + timeout
    rows: list = []
    while time.monotonic() < deadline:
        rows = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows += gw.query({"filter": {"request": {"request_id": {"in": chunk}}}, "limit": 1000})
        if len(rows) == len(ids):
            break
        time.sleep(0.2)
    return rows


@pytest.mark.postgres
def test_store_down_and_spool_replaced_by_a_file_then_both_recover(upstream, tmp_path):
    """Issue 9: the writer used to die on the first spool error and never write the records held in memory."""
    pg_url = require_postgres()
    schema = fresh_schema("sy_spoolfile")
    proxy = TcpProxy("127.0.0.1", 5432, free_port()).start()
    url = pg_url.replace(":5432/", f":{proxy.port}/")
    gw = GatewayProcess(
        tmp_path / "gw", default_config(upstream.url, free_port(), database={"url": url, "schema": schema})
    )
    spool = gw.home / "spool"
    try:
        gw.prepare()
        gw.start()
        status, warm = _chat(gw, "warm the key cache")
        assert status == 200
        gw.wait_row(warm)
        proxy.cut()
        shutil.rmtree(spool)
        spool.write_text("an operator's mistake")
        first = [_chat(gw, "store and spool down", stream=i % 2 == 0) for i in range(10)]
        assert all(status == 200 for status, _ in first), "answers keep flowing"
        deadline = time.monotonic() + 10
        while _metric(gw, "switchyard_log_records_at_risk") < 10 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _metric(gw, "switchyard_log_records_at_risk") == 10
        assert _metric(gw, "switchyard_log_spool_up") == 0
        assert "records stay in memory (at risk)" in gw.log_path.read_text()

        spool.unlink()  # the disk recovers first: the records reach the spool while the store is still down
        deadline = time.monotonic() + 10
        while _metric(gw, "switchyard_log_records_at_risk") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _metric(gw, "switchyard_log_records_at_risk") == 0 and list(spool.glob("*.jsonl"))

        aside = spool.with_name("spool.aside")
        spool.rename(
            aside
        )  # broken again (the first ten wait aside), and five held in memory when the store returns
        spool.write_text("again")
        second = [_chat(gw, "spool down again")[1] for _ in range(5)]
        proxy.restore()
        assert sorted(r["request_id"] for r in _wait_rows(gw, second)) == sorted(second), "memory → store"
        spool.unlink()
        aside.rename(spool)
        ids = [rid for _, rid in first] + second
        rows = _wait_rows(gw, ids)
        assert sorted(r["request_id"] for r in rows) == sorted(ids)
        assert _metric(gw, "switchyard_log_records_dropped_total") == 0
        assert _metric(gw, "switchyard_log_writer_restarts_total") == 0
    finally:
        gw.stop()
        proxy.close()
        drop_schema(schema)


def test_sigkill_while_the_database_is_locked_loses_no_answered_request(upstream, tmp_path):
    """Issue 9: records waited in memory until the insert committed, so a SIGKILL lost all of them (here: the
    database is write-locked by another process, as by a backup or a long migration). Also: the database and
    spool files are private (0600, spool directory 0700)."""
    gw = GatewayProcess(tmp_path / "gw", default_config(upstream.url, free_port()))
    gw.prepare()
    gw.start()
    db = gw.home / "switchyard.db"
    try:
        assert _chat(gw, "warm the key cache")[0] == 200
        lock = sqlite3.connect(db, timeout=30)
        lock.execute("BEGIN IMMEDIATE")  # holds the write lock: the gateway's inserts wait (busy_timeout)
        ok = [_chat(gw, f"answered {i}", stream=i % 3 == 0) for i in range(30)]
        assert all(status == 200 for status, _ in ok)
        time.sleep(0.5)  # ten flush intervals
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait(10)
        # private files (they hold prompts): the database's, SQLite's -wal and -shm included (checked while the
        # lock's connection is open: closing the last connection removes -wal and -shm)
        for name in ("switchyard.db", "switchyard.db-wal", "switchyard.db-shm"):
            assert stat.S_IMODE((gw.home / name).stat().st_mode) == 0o600, name
        lock.rollback()
        lock.close()
        leftovers = list((gw.home / "spool").glob("*.claimed-*"))
        assert leftovers, "the killed process left its write-ahead files"
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in leftovers)
        assert stat.S_IMODE((gw.home / "spool").stat().st_mode) == 0o700
    finally:
        gw.stop()
    gw.start()
    try:
        ids = [rid for _, rid in ok]
        rows = _wait_rows(gw, ids)
        assert sorted(r["request_id"] for r in rows) == sorted(ids)
    finally:
        gw.stop()


def test_sigkill_under_steady_load_loses_only_the_last_flush_interval(upstream, tmp_path):
    gw = GatewayProcess(tmp_path / "gw", default_config(upstream.url, free_port()))  # flush_interval_ms: 50
    gw.prepare()
    gw.start()
    answered: list[tuple[float, str]] = []
    stop = time.monotonic() + 1.5
    try:
        with httpx.Client(timeout=30) as c:
            while time.monotonic() < stop:
                body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "steady"}]}
                r = c.post(f"{gw.url}/v1/chat/completions", json=body, headers=gw.headers())
                assert r.status_code == 200
                answered.append((time.monotonic(), r.headers["helicone-id"]))
        killed_at = time.monotonic()
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait(10)
    finally:
        gw.stop()
    gw.start()
    try:
        older = [rid for t, rid in answered if t < killed_at - 0.25]  # 5 flush intervals of margin
        assert len(older) > 20
        # wait for the rows that must be there: the last interval's may be lost, and waiting for those too ran to
        # the 30 s deadline whenever one was
        rows = _wait_rows(gw, older)
        stored = {r["request_id"] for r in rows}
        assert set(older) <= stored, f"{len(set(older) - stored)} of {len(older)} older answers lost"
    finally:
        gw.stop()
