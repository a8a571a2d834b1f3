"""Red team: an organisation's BYOK provider key must not turn the gateway into a proxy to any host.

Before the egress policy (pipeline/byok_egress.py), whoever could add a provider key (admin API, CLI, and the
dashboard for an organisation's own admins) chose the host the gateway connects to: `base_url`/`endpoint`
pointing at 169.254.169.254, loopback or RFC 1918 services, an Azure `resource` like `evil.example#`, a Vertex
"key" that is a file path on the gateway's host, or a Vertex service-account JSON whose `token_uri` is an
internal URL. An "internal service" here is a second mock upstream on loopback that records every hit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from support.gateway import GatewayProcess, cli, default_config, free_port
from support.mock_upstream import MockUpstream

ADMIN_KEY = "admin-red-team-0123456789abcdef-0123"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def internal() -> Iterator[MockUpstream]:
    srv = MockUpstream().start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    g = GatewayProcess(
        tmp_path_factory.mktemp("egress"), default_config(upstream.url, free_port(), admin={"key": ADMIN_KEY})
    )
    g.prepare()
    g.start()
    yield g
    g.stop()


def admin(gw: GatewayProcess, method: str, path: str, body: object = None) -> httpx.Response:
    return httpx.request(
        method,
        f"{gw.url}/admin/v1{path}",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    )


def new_org(gw: GatewayProcess, name: str) -> tuple[str, str]:
    org = admin(gw, "POST", "/orgs", {"name": name}).json()
    key = admin(gw, "POST", f"/orgs/{org['id']}/keys").json()["key"]
    return org["id"], key


def refused(r: httpx.Response, param: str) -> str:
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param, err
    return str(err["message"])


SERVICE_ACCOUNT = {
    "type": "service_account",
    "project_id": "p",
    "private_key_id": "0123456789abcdef",
    "client_email": "x@p.iam.gserviceaccount.com",
    "private_key": "-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n",
}


def test_admin_api_refuses_internal_hosts(gw: GatewayProcess, internal: MockUpstream) -> None:
    org, _ = new_org(gw, "egress-admission")
    base = f"/orgs/{org}/provider-keys"
    cases = [
        ({"provider": "openai", "config": {"base_url": f"{internal.url}/v1"}}, "config.base_url"),
        (
            {"provider": "openai", "config": {"base_url": "http://169.254.169.254/latest/meta-data"}},
            "config.base_url",
        ),
        ({"provider": "openai", "config": {"base_url": "http://2852039166/v1"}}, "config.base_url"),
        ({"provider": "azure", "config": {"endpoint": "https://10.0.0.7"}}, "config.endpoint"),
        (
            {"provider": "azure", "config": {"base_url": "https://x.openai.azure.com.evil.example"}},
            "config.base_url",
        ),
        (
            {"provider": "azure", "config": {"base_url": "https://evil.example#.openai.azure.com"}},
            "config.base_url",
        ),
        ({"provider": "azure", "config": {"resource": "evil.example#"}}, "config.resource"),
        ({"provider": "bedrock", "config": {"region": "x.evil.example/"}}, "config.region"),
        ({"provider": "bedrock", "config": {"endpoint": "http://127.0.0.1:9/"}}, "config.endpoint"),
        ({"provider": "vertex", "config": {"region": "evil.example/"}}, "config.region"),
    ]
    for body, param in cases:
        refused(admin(gw, "POST", base, {**body, "key": "k" * 24}), param)
    # credentials in the URL (the host is evil.example) are refused by the request's own validation, which names
    # the config field and the entry: `config: base_url must not carry credentials` (tests/unit/test_admin_input.py)
    creds = {"provider": "azure", "config": {"base_url": "https://x.openai.azure.com@evil.example"}}
    msg = refused(admin(gw, "POST", base, {**creds, "key": "k" * 24}), "config")
    assert "base_url must not carry credentials" in msg
    msg = refused(admin(gw, "POST", base, {"provider": "vertex", "key": str(gw.config_path)}), "key")
    assert "file path" in msg
    sa = {**SERVICE_ACCOUNT, "token_uri": f"{internal.url}/token"}
    refused(admin(gw, "POST", base, {"provider": "vertex", "key": json.dumps(sa)}), "key")

    # the cloud hosts a real key needs stay accepted, and a patch cannot sneak a host in afterwards
    ok = admin(
        gw,
        "POST",
        base,
        {
            "provider": "azure",
            "key": "k" * 24,
            "id": "az",
            "config": {"endpoint": "https://my-res.openai.azure.com", "resource": "my-res"},
        },
    )
    assert ok.status_code == 201, ok.text
    assert (
        admin(gw, "POST", base, {"provider": "vertex", "key": json.dumps(SERVICE_ACCOUNT)}).status_code == 201
    )
    assert (
        admin(
            gw, "POST", base, {"provider": "bedrock", "key": "k" * 24, "config": {"region": "eu-west-3"}}
        ).status_code
        == 201
    )
    refused(admin(gw, "PATCH", f"{base}/az", {"config": {"endpoint": f"{internal.url}"}}), "config.endpoint")
    assert admin(gw, "PATCH", f"{base}/az", {"enabled": False}).status_code == 200
    assert internal.seen == []


def test_cli_refuses_internal_hosts(gw: GatewayProcess, internal: MockUpstream) -> None:
    with pytest.raises(RuntimeError, match=r"config\.base_url"):
        cli(
            gw.home,
            gw.config_path,
            "provider-keys",
            "add",
            "--org",
            "test",
            "--provider",
            "openai",
            "--key-env",
            "HOME",
            "--set",
            f"base_url={internal.url}/v1",
        )


def test_key_stored_before_the_policy_is_refused_at_call_time(
    upstream, internal: MockUpstream, tmp_path: Path
) -> None:
    """A key whose base_url an older gateway (or a permissive config, or SQL) stored is never called: the
    final URL is checked on every attempt, and the caller falls back to the operator's key."""
    port = free_port()
    permissive = default_config(
        upstream.url, port, security={"byok_endpoints": {"openai": ["http://127.0.0.1:*"]}}
    )
    g = GatewayProcess(tmp_path, permissive)
    key = g.prepare("egress-old")
    cli(
        g.home,
        g.config_path,
        "provider-keys",
        "add",
        "--org",
        "egress-old",
        "--provider",
        "openai",
        "--id",
        "old",
        "--key-env",
        "HOME",
        "--set",
        f"base_url={internal.url}/v1",
    )
    g.config = default_config(upstream.url, port)  # the operator's policy as shipped
    g.config_path.write_text(yaml.safe_dump(g.config))
    g.start()
    try:
        before = len(internal.seen)
        pinned = httpx.post(
            f"{g.url}/v1/chat/completions",
            json={**CHAT, "model": "gpt-4o-mini/openai/old"},
            headers=g.headers(key),
            timeout=30,
        )
        assert pinned.status_code == 403, pinned.text
        assert "byok_endpoints" in pinned.json()["error"]["message"]
        fallback = httpx.post(f"{g.url}/v1/chat/completions", json=CHAT, headers=g.headers(key), timeout=30)
        assert fallback.status_code == 200, fallback.text
        assert len(internal.seen) == before  # the internal service was never reached
    finally:
        g.stop()


def test_operator_allow_list_admits_an_internal_host(
    upstream, internal: MockUpstream, tmp_path: Path
) -> None:
    cfg = default_config(
        upstream.url,
        free_port(),
        admin={"key": ADMIN_KEY},
        security={"byok_endpoints": {"openai": [f"http://127.0.0.1:{internal.port}"]}},
    )
    g = GatewayProcess(tmp_path, cfg)
    g.prepare()
    g.start()
    try:
        org, key = new_org(g, "egress-allowed")
        r = admin(
            g,
            "POST",
            f"/orgs/{org}/provider-keys",
            {
                "provider": "openai",
                "key": "sk-org-own-key-000000000",
                "id": "mine",
                "config": {"base_url": f"{internal.url}/v1"},
            },
        )
        assert r.status_code == 201, r.text
        other_port = admin(
            g,
            "POST",
            f"/orgs/{org}/provider-keys",
            {"provider": "openai", "key": "k" * 24, "config": {"base_url": "http://127.0.0.1:9/v1"}},
        )
        refused(other_port, "config.base_url")  # the pattern named one port
        ok = httpx.post(
            f"{g.url}/v1/chat/completions",
            json={**CHAT, "model": "gpt-4o-mini/openai/mine"},
            headers=g.headers(key),
            timeout=30,
        )
        assert ok.status_code == 200, ok.text
        assert internal.last("/v1/").headers["authorization"] == "Bearer sk-org-own-key-000000000"
    finally:
        g.stop()


def test_a_bad_pattern_stops_the_start(upstream, tmp_path: Path) -> None:
    cfg = default_config(
        upstream.url, free_port(), security={"byok_endpoints": {"openai": ["http://*.*.*.*"]}}
    )
    g = GatewayProcess(tmp_path, cfg)
    g.home.mkdir(parents=True, exist_ok=True)
    g.config_path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(RuntimeError, match="byok"):
        g.start(timeout=30)
