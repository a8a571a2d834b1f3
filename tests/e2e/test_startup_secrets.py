"""What `switchyard serve` refuses to start with, as an operator meets it: admin or master keys shorter than 32
characters, an empty master.key, and a master key the shared database was not set up with (a replica whose
`${SWITCHYARD_MASTER_KEY}` was unset would otherwise make its own and silently fail every BYOK key); plus the
private home directory and the optional bearer token on /metrics. The refused starts and the CLI commands run in
this process (support/cli_inprocess.py: `serve` up to its refusal); the gateways that do start are real processes."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from support.cli_inprocess import refused_serve, run_cli
from support.gateway import GatewayProcess, default_config, free_port
from support.services import drop_schema, fresh_schema, require_postgres

METRICS_TOKEN = "metrics-" + secrets.token_hex(16)


def run(
    home: Path, cfg: dict[str, Any], *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`switchyard <args>` with this home and config, in this process; a `serve` here must be refused."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "switchyard.yaml"
    path.write_text(yaml.safe_dump(cfg))
    full_env = {**os.environ, "SWITCHYARD_HOME": str(home), "SWITCHYARD_CONFIG": str(path), **(env or {})}
    if "SWITCHYARD_ADMIN_KEY" not in (env or {}):
        full_env.pop("SWITCHYARD_ADMIN_KEY", None)  # only this test's own admin key, if any
    if args[0] == "serve":
        return refused_serve(*args[1:], env=full_env)
    return run_cli(args, env=full_env, stdin=stdin or "")


def test_serve_refuses_short_admin_keys(upstream, tmp_path):
    cfg = default_config(upstream.url, free_port(), admin={"key": "admin"})
    out = run(tmp_path / "a", cfg, "serve")
    assert out.returncode == 2, out.stderr
    assert "admin.key" in out.stderr and "at least 32" in out.stderr and "5 characters" in out.stderr
    out = run(
        tmp_path / "b",
        default_config(upstream.url, free_port()),
        "serve",
        env={"SWITCHYARD_ADMIN_KEY": "x" * 31},
    )
    assert out.returncode == 2 and "SWITCHYARD_ADMIN_KEY" in out.stderr and "at least 32" in out.stderr
    assert "x" * 31 not in out.stderr  # the message never repeats the secret


def test_serve_refuses_a_short_master_key(upstream, tmp_path):
    cfg = default_config(upstream.url, free_port(), security={"master_key": "hunter2"})
    out = run(tmp_path / "a", cfg, "serve")
    assert out.returncode == 2, out.stderr
    assert "security.master_key" in out.stderr and "at least 32" in out.stderr and "hunter2" not in out.stderr


def test_serve_refuses_an_empty_master_key_file(upstream, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "master.key").write_bytes(b"\n")
    out = run(home, default_config(upstream.url, free_port()), "serve")
    assert out.returncode == 2, out.stderr
    assert "master.key is empty" in out.stderr
    assert (home / "master.key").read_bytes() == b"\n"  # left for the operator to restore, never replaced


@pytest.mark.postgres
def test_a_replica_with_another_master_key_refuses_to_start(upstream, tmp_path):
    pg, schema = require_postgres(), fresh_schema("sy_master")
    k1, k2 = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    shared = {"database": {"url": pg, "schema": schema}}
    a = GatewayProcess(
        tmp_path / "a", default_config(upstream.url, free_port(), security={"master_key": k1}, **shared)
    )
    try:
        a.prepare()
        a.start()
        added = run(
            a.home,
            a.config,
            "provider-keys",
            "add",
            "--org",
            "test",
            "--provider",
            "openai",
            "--id",
            "main",
            "--key-env",
            "BYOK_KEY",
            env={"BYOK_KEY": "sk-org-own-openai-key-0123456789"},
        )
        assert added.returncode == 0, added.stderr

        # B: the same database, another master key (a typo, a rotated secret): refused, naming the problem
        b_cfg = default_config(upstream.url, free_port(), security={"master_key": k2}, **shared)
        out = run(tmp_path / "b", b_cfg, "serve")
        assert out.returncode == 2, out.stdout + out.stderr
        assert (
            "not the one this database was set up with" in out.stderr and "security.master_key" in out.stderr
        )
        assert k1 not in out.stderr and k2 not in out.stderr

        # C: ${SWITCHYARD_MASTER_KEY} unset, so no master key configured: C would make its own master.key
        c_cfg = default_config(upstream.url, free_port(), **shared)
        c_cfg["security"] = {"master_key": "${SWITCHYARD_MASTER_KEY}"}
        out = run(tmp_path / "c", c_cfg, "serve", env={"SWITCHYARD_MASTER_KEY": ""})
        assert out.returncode == 2, out.stdout + out.stderr
        assert "not the one this database was set up with" in out.stderr
        assert (
            str(tmp_path / "c" / "master.key") in out.stderr
            and "security.master_key is not set" in out.stderr
        )

        # the CLI refuses too: a key created under K2 could never be presented to a gateway running with K1
        out = run(tmp_path / "b", b_cfg, "keys", "create", "--org", "test")
        assert out.returncode == 1 and "not the one this database was set up with" in out.stderr
        assert "sk-sy-" not in out.stdout

        # A is unaffected, and a replica with the right key starts
        assert httpx.get(f"{a.url}/healthz", timeout=5).status_code == 200
        good = GatewayProcess(
            tmp_path / "good",
            default_config(upstream.url, free_port(), security={"master_key": k1}, **shared),
        )
        good.config_path.parent.mkdir(parents=True)
        good.config_path.write_text(yaml.safe_dump(good.config))
        good.start()
        try:
            r = httpx.post(
                f"{good.url}/v1/chat/completions",
                headers=a.headers(),
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                timeout=30,
            )
            assert r.status_code == 200, r.text
        finally:
            good.stop()
    finally:
        a.stop()
        drop_schema(schema)


# -- a running gateway: private home, /metrics behind a token ---------------------------------------------


@pytest.fixture(scope="module")
def private_gw(upstream, tmp_path_factory):
    gw = GatewayProcess(
        tmp_path_factory.mktemp("private") / "home",
        default_config(upstream.url, free_port(), metrics={"token": METRICS_TOKEN}),
    )
    gw.prepare()
    gw.start()
    yield gw
    gw.stop()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_home_and_master_key_are_private(private_gw):
    assert stat.S_IMODE(private_gw.home.stat().st_mode) == 0o700
    assert stat.S_IMODE((private_gw.home / "master.key").stat().st_mode) == 0o600


def test_metrics_needs_the_token_when_one_is_configured(private_gw):
    url = f"{private_gw.url}/metrics"
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        private_gw.headers(),
        {"Authorization": METRICS_TOKEN},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
    ):
        r = httpx.get(url, headers=headers, timeout=10)
        assert r.status_code == 401, (headers, r.status_code)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "invalid_metrics_token"
        assert "switchyard_" not in r.text
    r = httpx.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert r.status_code == 200 and "switchyard_requests_total" in r.text
    assert httpx.get(f"{private_gw.url}/healthz", timeout=10).status_code == 200  # health stays open
