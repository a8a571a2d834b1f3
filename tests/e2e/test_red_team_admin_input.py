"""Red team: hostile admin API input never makes the gateway answer 500 (or a misleading 503), on SQLite and on
PostgreSQL (whose text type cannot hold NUL). Before the fix, on PostgreSQL: an organisation or key name with
NUL, a credit note with NUL and `GET /admin/v1/orgs/%00` were 500 / 503 "store unavailable"; 10,000 limit
rules (each checked on every request) and 100,000 allowed models were accepted."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.services import drop_schema, fresh_schema, require_postgres

ADMIN_KEY = "admin-red-team-input-0123456789abcdef"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def gw(request, upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    extra: dict = {"admin": {"key": ADMIN_KEY}}
    schema = None
    if request.param == "postgres":
        schema = fresh_schema("sy_rt_admin")
        extra["database"] = {"url": require_postgres(), "schema": schema}
    g = GatewayProcess(
        tmp_path_factory.mktemp("rt-admin"), default_config(upstream.url, free_port(), **extra)
    )
    g.prepare()
    g.start()
    yield g
    g.stop()
    if schema:
        drop_schema(schema)


def admin(gw: GatewayProcess, method: str, path: str, body: object = None) -> httpx.Response:
    return httpx.request(
        method,
        f"{gw.url}/admin/v1{path}",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )


def refused(r: httpx.Response, status: int, param: str | None = None) -> None:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    if param is not None:
        assert err["param"] == param, err


def test_nul_and_oversized_input_is_a_4xx(gw: GatewayProcess) -> None:
    refused(admin(gw, "POST", "/orgs", {"name": "evil\u0000org"}), 400, "name")
    org = admin(gw, "POST", "/orgs", {"name": "rt-input"}).json()
    base = f"/orgs/{org['id']}"
    refused(admin(gw, "POST", f"{base}/keys", {"name": "k\u0000"}), 400, "name")
    refused(
        admin(gw, "POST", f"{base}/keys", {"allowed_models": ["gpt-4o", "x\u0000"]}), 400, "allowed_models[1]"
    )
    refused(admin(gw, "POST", f"{base}/credits", {"amount_usd": 1, "note": "\u0000"}), 400, "note")
    refused(
        admin(
            gw,
            "POST",
            f"{base}/provider-keys",
            {"provider": "openai", "key": "k" * 20, "config": {"region\u0000": "x"}},
        ),
        400,
    )
    for path in (
        "/orgs/%00",
        "/orgs/%00/keys",
        f"{base}/provider-keys/a%00b",
        "/keys/%00",
        "/orgs/" + "x" * 300,
    ):
        refused(admin(gw, "GET", path), 404)
    limits = [{"metric": "requests", "limit": 1000, "window_seconds": 60 + i} for i in range(65)]
    refused(admin(gw, "PATCH", base, {"limits": limits}), 400, "limits")
    refused(
        admin(gw, "POST", f"{base}/keys", {"allowed_models": [f"m{i}" for i in range(1025)]}),
        400,
        "allowed_models",
    )
    # the same requests without the hostile part still work, and the gateway is healthy
    assert admin(gw, "PATCH", base, {"limits": limits[:64]}).status_code == 200
    assert admin(gw, "POST", f"{base}/credits", {"amount_usd": 1, "note": "ok"}).status_code == 201
    assert httpx.get(f"{gw.url}/readyz", timeout=5).status_code == 200
    assert "Traceback" not in gw.log_path.read_text()
