"""Redis dies under a running gateway, then comes back: nothing breaks, each `on_failure` mode does what it
says, and everything recovers on its own within seconds.

The test runs its OWN redis-server (a free port, no persistence) so it can kill and restart it, and two
gateways on it that share one SQLite store (so one gateway key works on both) and one key prefix: one with
`on_failure: open`, one with `closed`. A background thread keeps requests flowing through the kill and the
restart, so the failure hits requests in flight, not only fresh ones.

Expected while Redis is down: no 500 anywhere; `open` keeps answering and enforces limits per replica (an
in-process limiter); `closed` answers requests that carry a limit with 503 `limits_unavailable` and serves the
rest; the response cache misses instead of failing; /metrics shows `switchyard_redis_up 0` and counts the
failed operations. After the restart on the same port: shared limits again (the two gateways' requests count
against one quota), cache hits again, the key-change subscription back.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from support.gateway import GatewayProcess, default_config, free_port
from support.services import fresh_prefix

POLICY = "Helicone-RateLimit-Policy"
CACHE_ON = {"Helicone-Cache-Enabled": "true"}
RECOVERY_SECONDS = (
    8.0  # "within a few seconds": reconnects back off to at most 2 s, limits re-probe every 1 s
)


def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        message = "the redis-server binary is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the Redis outage test must run)")
        pytest.skip(message)
    return path


@dataclass
class RedisServer:
    """A throwaway redis-server this test may kill and restart on the same port."""

    binary: str
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([*args, "--daemonize", "no"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log_path.read_text()}")
            try:
                with redis.Redis.from_url(self.url, socket_timeout=0.5) as client:
                    client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start: {self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL: a crash, not a clean shutdown (connections drop without goodbye)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(redis_server_binary(), free_port(), tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def gateways(upstream, redis_server: RedisServer, tmp_path: Path) -> Iterator[dict[str, GatewayProcess]]:
    """{"open": ..., "closed": ...}: one store, one Redis prefix, one gateway key."""
    prefix = fresh_prefix("sy-outage")
    master = "outage-test-master-key-" + uuid.uuid4().hex
    db = tmp_path / "shared.db"
    gws = {}
    for mode in ("open", "closed"):
        cfg = default_config(
            upstream.url,
            free_port(),
            database={"url": f"sqlite:///{db}"},
            security={"master_key": master},
            redis={"url": redis_server.url, "key_prefix": prefix, "on_failure": mode, "timeout_ms": 200},
        )
        gws[mode] = GatewayProcess(tmp_path / mode, cfg)
    gws["open"].prepare()
    closed = gws["closed"]
    closed.home.mkdir(parents=True)
    closed.config_path.write_text(yaml.safe_dump(closed.config))
    closed.key = gws["open"].key
    try:
        with ThreadPoolExecutor(2) as pool:
            for started in [pool.submit(gw.start) for gw in gws.values()]:
                started.result()
        yield gws
    finally:
        for gw in gws.values():
            gw.stop()


# -- helpers ---------------------------------------------------------------------------------------------------


def chat(gw: GatewayProcess, headers: dict[str, str] | None = None, content: str = "hi") -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]},
        headers={**gw.headers(), **(headers or {})},
        timeout=30,
    )


def metrics(gw: GatewayProcess) -> dict[str, float]:
    """The Redis-related samples of /metrics, e.g. {"switchyard_redis_up": 0, 'errors{op="acquire"}': 3}."""
    text = httpx.get(gw.url + "/metrics", timeout=10).text
    out: dict[str, float] = {}
    for m in re.finditer(r'^switchyard_redis_(up|errors_total)(\{op="([a-z_]+)"\})? (\S+)$', text, re.M):
        name = "switchyard_redis_up" if m.group(1) == "up" else f'errors{{op="{m.group(3)}"}}'
        out[name] = float(m.group(4))
    return out


def wait_for(
    what: str, check: Callable[[], bool], timeout: float = RECOVERY_SECONDS, since: float | None = None
) -> float:
    """Seconds from `since` (default: now) until `check()` held, polled every 50 ms; fails naming `what`."""
    t0 = time.monotonic() if since is None else since
    while not check():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)
    return time.monotonic() - t0


def error_code(r: httpx.Response) -> str | None:
    try:
        return r.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class Traffic:
    """Requests kept flowing through both gateways by a background thread, while Redis dies and returns."""

    gateways: dict[str, GatewayProcess]
    seen: list[tuple[str, bool, int, str | None]] = field(
        default_factory=list
    )  # (mode, limited, status, code)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(60)

    def _run(self) -> None:
        clients = {mode: httpx.Client(base_url=gw.url, timeout=30) for mode, gw in self.gateways.items()}
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "traffic"}]}
        try:
            while not self._stop.is_set():
                for mode, client in clients.items():
                    for limited in (True, False):
                        headers = self.gateways[mode].headers()
                        if limited:
                            headers[POLICY] = "100000;w=600"  # a limit that never refuses: only Redis matters
                        r = client.post("/v1/chat/completions", json=body, headers=headers)
                        self.seen.append((mode, limited, r.status_code, error_code(r)))
                time.sleep(0.01)
        finally:
            for client in clients.values():
                client.close()

    def count(self, mode: str, limited: bool, status: int) -> int:
        return sum(1 for m, lim, s, _ in self.seen if m == mode and lim == limited and s == status)


# -- the test --------------------------------------------------------------------------------------------------


def test_redis_outage_degrades_as_configured_and_recovers(redis_server: RedisServer, gateways):
    opened, closed = gateways["open"], gateways["closed"]
    both = (opened, closed)

    # 1. healthy: one quota across both gateways, a cache entry written through one read through the other
    statuses = [chat(gw, {POLICY: "4;w=61"}).status_code for gw in both * 4]
    assert statuses == [200] * 4 + [429] * 4, statuses
    before = f"outage-before-{uuid.uuid4().hex[:10]}"
    assert chat(opened, CACHE_ON, before).headers["helicone-cache"] == "MISS"
    wait_for("cache entry visible through the other gateway", lambda: _cached(closed, before), timeout=5)
    assert all(metrics(gw)["switchyard_redis_up"] == 1 for gw in both)

    with Traffic(gateways) as traffic:
        time.sleep(0.5)
        # 2. Redis crashes while requests are in flight
        redis_server.kill()
        killed_at = time.monotonic()
        time.sleep(0.5)

        # open: keeps answering, limits enforced per gateway from zero (in-process counters)
        assert [chat(opened, {POLICY: "2;w=62"}).status_code for _ in range(3)] == [200, 200, 429]
        # closed: a request with a limit gets 503 limits_unavailable; one without is served
        refused = chat(closed, {POLICY: "2;w=62"})
        assert refused.status_code == 503, refused.text
        assert error_code(refused) == "limits_unavailable" and refused.headers["retry-after"] == "1"
        assert chat(closed).status_code == 200
        # the cache: a miss (the answer comes from the provider), never an error — on both gateways
        for gw in both:
            r = chat(gw, CACHE_ON, before)
            assert r.status_code == 200 and r.headers["helicone-cache"] == "MISS", (r.status_code, r.headers)
        for gw in both:
            m = metrics(gw)
            assert m["switchyard_redis_up"] == 0, m
            assert m.get('errors{op="acquire"}', 0) >= 1 and m.get('errors{op="cache_get"}', 0) >= 1, m
            assert m.get('errors{op="invalidate_subscribe"}', 0) >= 1, m  # the key-change subscription too
        time.sleep(max(0.0, 3.0 - (time.monotonic() - killed_at)))  # an outage of seconds, under traffic
        assert all(metrics(gw)["switchyard_redis_up"] == 0 for gw in both)
        down_for = time.monotonic() - killed_at

        # 3. Redis restarts on the same port, empty
        redis_server.start()
        restarted_at = time.monotonic()
        closed_back = wait_for(
            "closed gateway admits limited requests again",
            lambda: chat(closed, {POLICY: "1000;w=90"}).status_code == 200,
            since=restarted_at,
        )
        open_back = wait_for(
            "open gateway uses Redis again",
            lambda: (
                chat(opened, {POLICY: "1000;w=90"}).status_code == 200
                and metrics(opened)["switchyard_redis_up"] == 1
            ),
            since=restarted_at,
        )
        time.sleep(0.5)  # a little traffic on the recovered Redis before stopping it

    # no 500s (nor anything else unexpected) through the crash and the restart
    unexpected = [s for s in traffic.seen if not _expected(*s)]
    assert not unexpected, unexpected[:5]
    assert traffic.count("closed", True, 503) >= 1, "the outage reached the traffic"
    assert traffic.count("open", True, 200) == sum(1 for m, lim, _, _ in traffic.seen if m == "open" and lim)

    # 4. recovered: one shared quota again, the cache stores and hits again, the subscription is back
    statuses = [chat(gw, {POLICY: "4;w=63"}).status_code for gw in both * 4]
    assert statuses == [200] * 4 + [429] * 4, statuses
    after = f"outage-after-{uuid.uuid4().hex[:10]}"
    assert chat(closed, CACHE_ON, after).headers["helicone-cache"] == "MISS"
    _cached(opened, after) or wait_for("cache hit through the other gateway", lambda: _cached(opened, after))
    cache_back = time.monotonic() - restarted_at
    subscribed = [
        wait_for(
            f"{gw.url} re-subscribed to key changes",
            lambda gw=gw: "Redis pub/sub for key changes is back" in gw.log_path.read_text(),
            since=restarted_at,
        )
        for gw in both
    ]
    print(
        f"\nRedis down {down_for:.2f}s under traffic; seconds after the restart, checked in turn: closed admits "
        f"limited requests {closed_back:.2f}, open gateway back on Redis {open_back:.2f}, cache hit across "
        f"gateways {cache_back:.2f}, key-change subscription back {max(subscribed):.2f}; "
        f"{len(traffic.seen)} background requests, {traffic.count('closed', True, 503)} of them 503 "
        "limits_unavailable, none failed otherwise"
    )


def _cached(gw: GatewayProcess, content: str) -> bool:
    r = chat(gw, CACHE_ON, content)
    assert r.status_code == 200, r.text
    return r.headers["helicone-cache"] == "HIT"


def _expected(mode: str, limited: bool, status: int, code: str | None) -> bool:
    if status == 200:
        return True
    return mode == "closed" and limited and status == 503 and code == "limits_unavailable"
