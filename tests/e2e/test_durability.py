"""Nothing is lost: requests answered during a graceful shutdown, or while the store is down, are all logged."""

from __future__ import annotations

import concurrent.futures as cf
import signal
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
    gw = GatewayProcess(tmp_path / "gw", default_config(upstream.url, free_port(), database={"url": url, "schema": schema}))
    try:
        gw.prepare()
        gw.start()
        assert _chat(gw, "warm the key cache")[0] == 200
        assert httpx.get(f"{gw.url}/readyz").status_code == 200

        proxy.cut()
        during = [_chat(gw, "store is down", stream=i % 2 == 0) for i in range(10)]
        assert all(status == 200 for status, _ in during), "answers keep flowing while the store is down"
        assert httpx.get(f"{gw.url}/readyz").status_code == 503
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
