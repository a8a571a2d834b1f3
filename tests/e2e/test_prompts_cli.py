"""`switchyard prompts ...` against the store of a running gateway: create, version, show, deploy (by number),
diff; the gateway serves what the CLI deployed (it polls the prompt revision), and errors are one line."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from openai import OpenAI

from support.cli_inprocess import run_cli
from support.gateway import GatewayProcess, default_config, free_port

V1 = {
    "model": "gpt-4o-mini",
    "temperature": 0.3,
    "messages": [{"role": "system", "content": "One {{hc:x:string}}"}],
}
V2 = {
    "model": "gpt-4o-mini",
    "temperature": 0.7,
    "messages": [{"role": "system", "content": "Two {{hc:x:string}}"}],
}


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    g = GatewayProcess(tmp_path_factory.mktemp("prompts-cli"), default_config(upstream.url, free_port()))
    g.prepare()
    g.start()
    yield g
    g.stop()


def run(gw: GatewayProcess, *args: str, stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SWITCHYARD_HOME": str(gw.home), "SWITCHYARD_CONFIG": str(gw.config_path)}
    out = run_cli(["prompts", *args], env=env, stdin=stdin)
    assert (out.returncode == 0) == ok, (out.stdout, out.stderr)
    return out


def sent_system(gw: GatewayProcess, upstream) -> str:
    OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=[], extra_body={"prompt_id": "cli-p", "inputs": {"x": "y"}}
    )
    return upstream.last("/v1/chat/completions").body["messages"][0]["content"]


def wait_sent(gw: GatewayProcess, upstream, expected: str) -> None:
    deadline = time.monotonic() + 5  # the gateway polls the store's prompt revision once a second
    while sent_system(gw, upstream) != expected:
        assert time.monotonic() < deadline, f"gateway still sends {sent_system(gw, upstream)!r}"
        time.sleep(0.2)


def test_create_version_deploy_diff(gw, upstream, tmp_path: Path):
    body = tmp_path / "v1.json"
    body.write_bytes(orjson.dumps(V1))
    out = run(gw, "create", str(body), "--org", "test", "--id", "cli-p", "--name", "CLI prompt", "--json")
    created = orjson.loads(out.stdout)
    assert created["id"] == "cli-p" and created["number"] == 1
    assert sent_system(gw, upstream) == "One y"

    out = run(gw, "version", "cli-p", "-", "--org", "test", stdin=orjson.dumps(V2).decode())
    assert "created version v2" in out.stdout
    assert sent_system(gw, upstream) == "One y"  # a new version is not deployed by itself

    run(gw, "deploy", "cli-p", "v2", "--org", "test")
    wait_sent(gw, upstream, "Two y")
    run(gw, "deploy", "cli-p", "1", "--org", "test", "--env", "production")  # roll back, by number
    wait_sent(gw, upstream, "One y")

    shown = run(gw, "show", "cli-p", "--org", "test").stdout
    assert "v1" in shown and "v2" in shown and "[production]" in shown
    listed = run(gw, "list", "--org", "test").stdout
    assert "cli-p" in listed and f"production={created['version_id']}" in listed

    diff = run(gw, "diff", "cli-p", "v1", "v2", "--org", "test").stdout
    assert "--- cli-p v1" in diff and "+++ cli-p v2" in diff
    assert (
        '-      "content": "One {{hc:x:string}}",' in diff
        and '+      "content": "Two {{hc:x:string}}",' in diff
    )
    assert '-  "temperature": 0.3' in diff and '+  "temperature": 0.7' in diff


def test_errors_are_one_line(gw, tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "not valid JSON" in run(gw, "create", str(bad), "--org", "test", ok=False).stderr
    bad.write_bytes(orjson.dumps({"model": "x"}))
    assert "messages" in run(gw, "create", str(bad), "--org", "test", ok=False).stderr
    assert "no version 'v9'" in run(gw, "deploy", "cli-p", "v9", "--org", "test", ok=False).stderr
    assert "No prompt 'nope'" in run(gw, "show", "nope", "--org", "test", ok=False).stderr
