"""The command line as a user meets it: first start, config errors, key revocation, several workers."""

from __future__ import annotations

import os
import subprocess
import time

import httpx

from support.cli_inprocess import refused_serve
from support.gateway import BIN, GatewayProcess, cli, default_config, free_port


def test_first_start_prints_a_key_that_works(upstream, tmp_path):
    # the console script itself (a fresh interpreter), as an operator starts it: support/serve_fork.py
    gw = GatewayProcess(tmp_path / "gw", default_config(upstream.url, free_port()), exec_script=True)
    gw.home.mkdir(parents=True)
    import yaml

    gw.config_path.write_text(yaml.safe_dump(gw.config))
    gw.start()
    try:
        deadline = time.monotonic() + 5
        lines: list[str] = []
        while time.monotonic() < deadline:
            lines = [
                ln.strip() for ln in gw.log_path.read_text().splitlines() if ln.strip().startswith("sk-sy-")
            ]
            if lines:
                break
            time.sleep(0.1)
        assert len(lines) == 1
        r = httpx.post(
            f"{gw.url}/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {lines[0]}"},
        )
        assert r.status_code == 200
    finally:
        gw.stop()
    gw.start()  # second start: no new key is printed
    try:
        assert sum(ln.strip().startswith("sk-sy-") for ln in gw.log_path.read_text().splitlines()) == 1
    finally:
        gw.stop()


def test_a_bad_config_fails_the_start_naming_the_field(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("server: {port: not-a-port}\n")
    env = {**os.environ, "SWITCHYARD_HOME": str(tmp_path)}
    out = refused_serve("--config", str(cfg), env=env)  # refused before serving: in this process
    assert out.returncode == 2
    assert "server.port" in out.stderr
    cfg.write_text("providers:\n  my-llm: {base_url: 'http://x'}\n")  # refused as the app is built: a process
    out = subprocess.run(
        [str(BIN), "serve", "--config", str(cfg)], capture_output=True, text=True, timeout=60, env=env
    )
    assert out.returncode != 0 and "providers.my-llm" in out.stderr and "format" in out.stderr


def test_revoked_key_stops_working_within_seconds(gateway):
    key = gateway.new_key("revocation")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    assert (
        httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=gateway.headers(key)).status_code
        == 200
    )
    listing = cli(gateway.home, gateway.config_path, "keys", "list", "--org", "revocation")
    key_id = listing.split()[0]
    assert key not in listing  # never the key itself
    cli(gateway.home, gateway.config_path, "keys", "revoke", key_id)
    deadline = time.monotonic() + 3
    status = 200
    while time.monotonic() < deadline and status == 200:
        status = httpx.post(
            f"{gateway.url}/v1/chat/completions", json=body, headers=gateway.headers(key)
        ).status_code
        time.sleep(0.1)
    assert status == 401


def test_several_workers_share_one_port_and_log_everything(upstream, tmp_path):
    cfg = default_config(upstream.url, free_port())
    cfg["server"]["workers"] = 2
    gw = GatewayProcess(tmp_path / "gw", cfg, exec_script=True)
    gw.prepare()
    gw.start()
    try:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        with httpx.Client() as c:  # new connection per request spreads them over the workers
            ids = [
                httpx.post(f"{gw.url}/v1/chat/completions", json=body, headers=gw.headers()).headers[
                    "helicone-id"
                ]
                for _ in range(20)
            ]
        for rid in ids:
            assert gw.wait_row(rid)["response_status"] == 200
        del c
    finally:
        gw.stop()
