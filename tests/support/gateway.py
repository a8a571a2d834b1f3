"""Run a real `switchyard serve` process on loopback for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

BIN = Path(sys.executable).parent / "switchyard"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(home: Path, config: Path, *args: str) -> str:
    env = {**os.environ, "SWITCHYARD_HOME": str(home), "SWITCHYARD_CONFIG": str(config)}
    out = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=60)
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
        "log": {"flush_interval_ms": 50},
    }
    for k, v in extra.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    return cfg


@dataclass
class GatewayProcess:
    home: Path
    config: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    key: str = ""

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
        cli(self.home, self.config_path, "orgs", "create", org)
        self.key = (
            cli(self.home, self.config_path, "keys", "create", "--org", org, "--name", "e2e")
            .strip()
            .splitlines()[-1]
        )
        return self.key

    def new_key(self, org: str) -> str:
        with contextlib.suppress(RuntimeError):  # the organisation may exist already
            cli(self.home, self.config_path, "orgs", "create", org)
        return cli(self.home, self.config_path, "keys", "create", "--org", org).strip().splitlines()[-1]

    def start(self, timeout: float = 90) -> GatewayProcess:
        env = {
            **os.environ,
            "SWITCHYARD_HOME": str(self.home),
            "SWITCHYARD_CONFIG": str(self.config_path),
            **self.env,
        }
        self.log_path = self.home / "serve.log"
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([str(BIN), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
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
