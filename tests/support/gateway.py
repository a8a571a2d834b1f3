"""Run a real `switchyard serve` process on loopback for end-to-end tests."""

from __future__ import annotations

import concurrent.futures
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from switchyard.cli.runner import run_store, secrets_for
from switchyard.config import load_settings
from switchyard.security import display_prefix, new_gateway_key

from .cli_inprocess import run_cli
from .serve_fork import ForkedProcess

BIN = Path(sys.executable).parent / "switchyard"


# Ports handed to servers the tests start later: each pytest-xdist worker draws from its own slice below the
# kernel's ephemeral range (32768+, where outgoing connections take theirs), so no two workers, and no client
# socket, can be given the same port between the draw and the server's bind.
_SLICE = 1000
_handed: set[int] = set()


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    low = 20000 + (int(worker) % 12 if worker.isdigit() else 0) * _SLICE
    for _ in range(_SLICE):
        port = random.randrange(low, low + _SLICE)
        if port in _handed:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port
    raise RuntimeError(f"no free port in {low}-{low + _SLICE - 1}")


def issue_key(
    home: Path, config: Path, org: str, name: str | None = None, env: dict[str, str] | None = None
) -> str:
    """A new gateway key of `org` (made if missing), as `switchyard orgs create` + `keys create` do it (the CLI's own
    store runner: migrations, master-key check, Redis notice to running gateways), without their subprocesses."""
    settings = load_settings(str(config), {**os.environ, **(env or {}), "SWITCHYARD_HOME": str(home)})

    async def go(store: Any) -> str:
        secrets = await secrets_for(settings, store)
        found = await store.get_org_by_name(org) or await store.create_org(org)
        key = new_gateway_key()
        await store.create_key(found.id, secrets.hash_key(key), display_prefix(key), name)
        return key

    # its own thread: run_store runs an event loop, and the caller may be inside one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(run_store, settings, go, publish=True).result()


def cli(home: Path, config: Path, *args: str) -> str:
    """`switchyard ARGS` against this home and config (in process: support/cli_inprocess.py); its stdout."""
    env = {**os.environ, "SWITCHYARD_HOME": str(home), "SWITCHYARD_CONFIG": str(config)}
    out = run_cli(args, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"switchyard {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def default_config(upstream: str, port: int, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port, "workers": 1, "max_body_bytes": 1024 * 1024},
        "providers": {
            "openai": {"api_key": "sk-upstream-openai-secret-0001", "base_url": f"{upstream}/v1"},
            "anthropic": {"api_key": "sk-ant-upstream-secret-0002", "base_url": f"{upstream}/anthropic/v1"},
            "google-ai-studio": {
                "api_key": "AIzaUpstreamSecret0003xyz",
                "base_url": f"{upstream}/gemini/v1beta",
            },
            "my-vllm": {
                "format": "openai",
                "base_url": f"{upstream}/vllm/v1",
                "api_key": "x",
                "completions": True,
            },
        },
        "log": {"flush_interval_ms": 50, "insert_delay_ms": 20},
    }
    for k, v in extra.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    return cfg


@dataclass
class GatewayProcess:
    home: Path
    config: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | ForkedProcess | None = None
    key: str = ""
    # True: start the `switchyard` console script (a fresh interpreter), for tests whose point is the script itself;
    # False: a fork of a process that has imported the gateway already (support/serve_fork.py), ~1 s less CPU
    exec_script: bool = False

    @property
    def port(self) -> int:
        return int(self.config["server"]["port"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.home / "switchyard.yaml"

    def prepare(self, org: str = "test") -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config))
        self.key = issue_key(self.home, self.config_path, org, "e2e", self.env)
        return self.key

    def new_key(self, org: str) -> str:
        return issue_key(self.home, self.config_path, org, env=self.env)

    def start(self, timeout: float = 90) -> GatewayProcess:
        env = {
            **os.environ,
            "SWITCHYARD_HOME": str(self.home),
            "SWITCHYARD_CONFIG": str(self.config_path),
            **self.env,
        }
        self.log_path = self.home / "serve.log"
        # the interpreter's own settings (PYTHON*, LD_*) need a fresh interpreter too
        if self.exec_script or any(k.startswith(("PYTHON", "LD_")) for k in self.env):
            with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
                self.proc = subprocess.Popen(
                    [str(BIN), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
                )
        else:
            self.proc = ForkedProcess(["serve"], env, self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gateway did not start: {self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """The admin API's JSON answer to `method /admin/v1<path>`, as the configured `admin.key`; anything but a
        200 or 201 fails the test."""
        r = httpx.request(
            method,
            f"{self.url}/admin/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.config['admin']['key']}"},
            timeout=10,
        )
        assert r.status_code in (200, 201), r.text
        return r.json()

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def query(self, body: dict[str, Any], key: str | None = None) -> list[dict[str, Any]]:
        r = httpx.post(f"{self.url}/v1/request/query", json=body, headers=self.headers(key), timeout=10)
        r.raise_for_status()
        return r.json()["data"]

    def wait_row(self, request_id: str, key: str | None = None, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = httpx.get(f"{self.url}/v1/request/{request_id}", headers=self.headers(key), timeout=10)
            if r.status_code == 200:
                return r.json()["data"]
            time.sleep(0.05)
        raise AssertionError(f"no log row for request {request_id} after {timeout}s")


@contextmanager
def serving(home: Path, upstream: str, **extra: Any) -> Iterator[GatewayProcess]:
    """A gateway on `default_config(upstream, a free port, **extra)` with the first key of organisation `test`
    (`.key`), started; stopped on exit, also when it fails to start."""
    gw = GatewayProcess(home, default_config(upstream, free_port(), **extra))
    try:
        gw.prepare()
        gw.start()
        yield gw
    finally:
        gw.stop()
