"""`switchyard serve --workers 2`: one scrape, whichever worker answers it, counts every worker's requests."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from support.gateway import GatewayProcess, default_config, free_port

OK = {"surface": "chat", "provider": "openai", "model": "gpt-4o-mini", "status_class": "2xx", "cache": "off"}


def requests_total(gw: GatewayProcess) -> float:
    r = httpx.get(f"{gw.url}/metrics", timeout=10)  # a new connection: any worker may answer
    assert r.status_code == 200
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            if s.name == "switchyard_requests_total" and s.labels == OK:
                return s.value
    return 0.0


def per_worker(directory: Path) -> dict[str, float]:
    """Requests each worker process has written to its own file (counter_<pid>.db)."""
    out = {}
    for f in directory.glob("counter_*.db"):
        total = 0.0
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(f)):
            if '"switchyard_requests_total"' in key and '"status_class": "2xx"' in key:
                total += value
        out[f.stem.split("_")[1]] = total
    return out


def chat(gw: GatewayProcess, _: int = 0) -> int:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=30) as c:  # one connection per request, so the kernel spreads them over workers
        return c.post(f"{gw.url}/v1/chat/completions", json=body, headers=gw.headers()).status_code


def test_one_scrape_sums_every_worker(upstream, tmp_path: Path):
    port = free_port()
    config = default_config(upstream.url, port, metrics={"flush_interval_ms": 200})
    config["server"]["workers"] = 2
    gw = GatewayProcess(tmp_path, config)
    gw.prepare()
    directory = tmp_path / "prometheus" / f"{socket.gethostname()}-127.0.0.1-{port}"
    directory.mkdir(parents=True)
    (directory / "counter_1.db").write_bytes(b"\x00" * 16)  # a previous run's file: removed at start
    gw.start()
    try:
        assert not (directory / "counter_1.db").exists()
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while sent < 400:  # until both workers have served some (usually the first batch)
                assert all(code == 200 for code in pool.map(lambda i: chat(gw, i), range(40)))
                sent += 40
                time.sleep(0.3)  # a flush interval: each worker's file holds its count
                counts = per_worker(directory)
                if len([n for n in counts.values() if n > 0]) >= 2:
                    break
        counts = per_worker(directory)
        assert len([n for n in counts.values() if n > 0]) == 2, counts  # two workers served requests
        time.sleep(0.5)
        # every scrape, whichever worker answers it, sees all K requests
        assert [requests_total(gw) for _ in range(10)] == [float(sent)] * 10
        assert sum(counts.values()) == sent
    finally:
        gw.stop()
    assert directory.is_dir() and not list(directory.glob("gauge_*"))  # workers' gauges gone with them
