"""A real Prometheus (Debian's `prometheus` package; `make test` installs it) scrapes a real gateway with the
metrics token, and every query of the Grafana dashboard (deploy/grafana/switchyard.json) evaluates through
Prometheus' HTTP API without error and with data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from support.gateway import GatewayProcess, default_config, free_port
from support.services import drop_prefix, fresh_prefix, require_redis

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "switchyard.json"
TOKEN = "metrics-token-for-the-prometheus-test-0123456789"
# Grafana's macros, as Grafana would expand them for a short range at a 1 s scrape interval
MACROS = {"$__rate_interval": "30s", "$__range": "5m", "$__interval": "5s"}


def prometheus_binary() -> str:
    path = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None
    )
    if path is None:
        message = "prometheus is not installed (Debian: apt-get install prometheus; `make test` does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the dashboard test must run)")
        pytest.skip(message)
    return path


def dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dash["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for macro, value in MACROS.items():
                expr = expr.replace(macro, value)
            out.append((panel["title"], expr))
    return out


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory) -> Iterator[GatewayProcess]:
    url = require_redis()
    prefix = fresh_prefix("syprom")
    config = default_config(
        upstream.url,
        free_port(),
        metrics={"token": TOKEN, "flush_interval_ms": 200},
        redis={"url": url, "key_prefix": prefix},
    )
    gw = GatewayProcess(tmp_path_factory.mktemp("prometheus-gw"), config)
    gw.prepare()
    gw.start()
    yield gw
    gw.stop()
    drop_prefix(url, prefix)


@pytest.fixture(scope="module")
def prometheus(gateway, tmp_path_factory) -> Iterator[str]:
    binary = prometheus_binary()
    home = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "switchyard",
                "authorization": {"credentials": TOKEN},
                "static_configs": [{"targets": [f"127.0.0.1:{gateway.port}"]}],
            }
        ],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = open(home / "prometheus.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (home / "prometheus.log").read_text()
            try:
                if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def query(base: str, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (expr, body)
    return body["data"]["result"]


def traffic(gw: GatewayProcess) -> None:
    """Every kind of event a dashboard panel shows."""

    def chat(content: str = "hi", model: str = "gpt-4o-mini", key: str | None = None, **headers: str) -> int:
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
        if headers.pop("stream", None):
            body["stream"] = True
        r = httpx.post(
            f"{gw.url}/v1/chat/completions", json=body, headers={**gw.headers(key), **headers}, timeout=30
        )
        return r.status_code

    for _ in range(5):
        assert chat() == 200
        assert chat(stream="1") == 200  # time to first token
    assert chat(key="sk-helicone-not-a-real-key") == 401
    assert chat(**{"Helicone-Cache-Enabled": "true"}) == 200
    assert chat(**{"Helicone-Cache-Enabled": "true"}) == 200  # a hit
    assert chat(**{"Helicone-RateLimit-Policy": "1;w=60"}) == 200  # admitted
    assert chat(**{"Helicone-RateLimit-Policy": "1;w=60"}) == 429  # rejected
    retry = {"Helicone-Retry-Enabled": "true", "Helicone-Retry-Num": "1", "Helicone-Retry-Min-Timeout": "10"}
    chat("[[500]]", **retry)  # a retry
    chat("[[500]]", model="gpt-4o-mini,claude-3.5-haiku")  # a fallback
    chat("[[slow]]", model="gpt-4o-mini,claude-3.5-haiku", **{"Switchyard-Hedge-After-Ms": "100"})  # a hedge


def test_every_dashboard_query_has_data_in_a_real_prometheus(gateway, prometheus):
    # Prometheus scrapes with the token (a scrape without it would be refused and `up` 0)
    deadline = time.monotonic() + 30
    while not [s for s in query(prometheus, 'up{job="switchyard"} == 1')] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert query(prometheus, 'up{job="switchyard"}')[0]["value"][1] == "1"
    traffic(gateway)
    time.sleep(4)  # several scrapes after the traffic: every rate() has two samples in its window
    queries = dashboard_queries()
    assert len(queries) >= 20
    empty = []
    for title, expr in queries:
        if not query(prometheus, expr):
            empty.append((title, expr))
    assert not empty, empty
    # the sums are the gateway's own numbers
    ok = query(prometheus, 'sum(switchyard_requests_total{surface="chat", status_class="2xx"})')
    assert float(ok[0]["value"][1]) >= 13


def test_the_dashboard_is_grafana_json():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["panels"] and dash["templating"]["list"][0]["type"] == "datasource"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        assert p["datasource"]["uid"] == "${datasource}" and p["targets"]
        assert all("switchyard_" in t["expr"] for t in p["targets"])
