"""What a serving process holds (issue 10: peak RSS of one `switchyard serve`): after proxied requests it has not
imported what only some requests, other configurations or the start-up need, and each of those, imported on its
first use, answers. The gateways run with PYTHONPROFILEIMPORTTIME=1, so their log lists every module the process
imports, in order, whenever it imports it: no debug hook in the gateway. (Python logs what `import` statements
load; a module loaded by `importlib.import_module` shows through the submodules it imports.)

Resident size itself is measured in bench (bench/README.md), not asserted here."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import yaml

from support.gateway import GatewayProcess, default_config, free_port

ADMIN = "admin-" + "f" * 40

# module (or package) → why a serving process that only proxies chat completions must not hold it
LAZY = {
    "cryptography": "AES-GCM for provider keys: security.Secrets._cipher, on first use",
    "sqlalchemy.dialects.postgresql": "a PostgreSQL store only (stores/dialect_insert.py)",
    "alembic": "migrations: imported only when some must run, and then serving is a fresh interpreter",
    "mako": "Alembic's",
    "pygments": "Alembic's",
    "jinja2": "the dashboard's pages (app.LazyRoutes)",
    "switchyard.dashboard": "the dashboard's pages (app.LazyRoutes)",
    "switchyard.api.admin": "the admin API (app._api_routes)",
    "switchyard.admin.orgs": "the admin operations",
    "switchyard.api.query": "Helicone's query API (app._api_routes)",
    "switchyard.api.insight_routes": "Helicone's session, user and feedback APIs",
    "switchyard.stores.insights": "the query APIs' and dashboard's reads",
    "switchyard.providers.gemini": "a translator no plan has used (providers.formats.Translators)",
    "switchyard.providers.bedrock": "a translator no plan has used",
    "switchyard.providers.vertex": "a translator no plan has used",
    "redis": "only with redis.url",
    "opentelemetry": "only with tracing configured",
}

_IMPORT = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")


def imported(log: str) -> list[str]:
    """The modules the process imported, in order, from its PYTHONPROFILEIMPORTTIME lines."""
    return [m.group(1) for line in log.splitlines() if (m := _IMPORT.match(line))]


def held(modules: list[str]) -> set[str]:
    """The entries of LAZY that `modules` includes (the module itself or one of its submodules)."""
    return {name for name in LAZY if any(m == name or m.startswith(name + ".") for m in modules)}


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def chat(gw: GatewayProcess, model: str, key: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers=gw.headers(key),
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )


posix_proc = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")


@posix_proc
def test_a_serving_process_loads_what_some_requests_need_on_their_first_use(upstream, tmp_path):
    gw = GatewayProcess(
        tmp_path / "gw",
        default_config(upstream.url, free_port(), admin={"key": ADMIN}),
        env={"PYTHONPROFILEIMPORTTIME": "1"},
    )
    gw.prepare()  # the database is at head: `serve` migrates nothing and serves in its own process
    gw.start()
    try:
        assert gw.proc is not None
        assert "switchyard.cli.serving" not in cmdline(gw.proc.pid)  # no second start-up
        for _ in range(3):
            assert chat(gw, "gpt-4o-mini").status_code == 200
        assert httpx.get(f"{gw.url}/v1/models", timeout=10).status_code == 200
        assert httpx.get(f"{gw.url}/healthz", timeout=10).status_code == 200
        assert httpx.get(f"{gw.url}/no/such/route", timeout=10).status_code == 404  # builds nothing lazy
        before = imported(gw.log_path.read_text())
        assert "switchyard.deps" in before and "uvicorn" in before  # the log does list the serving imports
        assert held(before) == set(), {m: LAZY[m] for m in held(before)}

        # each on its first use: answers, and only now is its module loaded
        assert chat(gw, "gemini-2.5-flash").status_code == 200
        q = httpx.post(f"{gw.url}/v1/request/query", headers=gw.headers(), json={"limit": 5}, timeout=10)
        assert q.status_code == 200 and isinstance(q.json()["data"], list)
        gw.admin("POST", "/orgs", {"name": "lazy"})
        gw.admin(
            "POST",
            "/orgs/lazy/provider-keys",
            {
                "provider": "openai",
                "key": "sk-lazy-" + "k" * 30,
                "id": "own",
                "config": {"base_url": upstream.url},
            },
        )
        page = httpx.get(f"{gw.url}/dashboard/signin", timeout=10)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        after = imported(gw.log_path.read_text())
        assert {
            "cryptography",
            "jinja2",
            "switchyard.dashboard",
            "switchyard.api.admin",
            "switchyard.admin.orgs",
            "switchyard.api.query",
            "switchyard.providers.gemini",
        } <= held(after)
        assert held(after) & {"alembic", "sqlalchemy.dialects.postgresql", "redis"} == set()
    finally:
        gw.stop()


@posix_proc
def test_a_start_that_migrates_serves_from_a_fresh_interpreter(upstream, tmp_path):
    gw = GatewayProcess(
        tmp_path / "gw", default_config(upstream.url, free_port()), env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    gw.home.mkdir(parents=True)
    gw.config_path.write_text(yaml.safe_dump(gw.config))  # a new database: this start runs the migrations
    gw.start()
    try:
        assert gw.proc is not None
        assert cmdline(gw.proc.pid)[1:] == ["-m", "switchyard.cli.serving"]  # same pid, a new interpreter
        cli_part = gw.log_path.read_text().partition("Switchyard listening on")[0]
        assert "alembic" in imported(cli_part)  # the migrations ran before the exec
        key = re.search(r"^\s+(sk-sy-\S+)$", cli_part, re.M)
        assert key is not None  # the first key, printed once by `serve`
        assert chat(gw, "gpt-4o-mini", key.group(1)).status_code == 200
        serving = imported(gw.log_path.read_text().partition("Switchyard listening on")[2])
        assert "switchyard.deps" in serving  # the fresh interpreter's own imports
        assert held(serving) == set(), {m: LAZY[m] for m in held(serving)}
    finally:
        gw.stop()
