"""The admin API (/admin/v1/...) over a real gateway: auth, organisations, gateway keys, BYOK provider keys,
credits, health — and that no answer ever carries a provider secret."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.gateway import GatewayProcess, default_config, free_port

ADMIN_KEY = "admin-e2e-0123456789abcdef-0123456789"
OPENAI_SECRET = "sk-byok-openai-SECRET-7a1f9c2e4b"
OPENAI_SECRET_2 = "sk-byok-openai-ROTATED-55d0e3a1x"
AWS_ACCESS_KEY_ID = "AKIAEXAMPLEKEY123456"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
AWS_TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENvalue"
SECRETS = (OPENAI_SECRET, OPENAI_SECRET_2, AWS_SECRET, AWS_TOKEN)
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


class Admin:
    """An admin API client that keeps every answer body, so tests can grep them all for secrets."""

    def __init__(self, url: str, key: str | None = ADMIN_KEY) -> None:
        self.url = url
        self.key = key
        self.bodies: list[str] = []

    def __call__(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        key: str | None = "",
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        key = self.key if key == "" else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        r = httpx.request(
            method,
            f"{self.url}/admin/v1{path}",
            json=json,
            content=content,
            params=params,
            headers=headers,
            timeout=10,
        )
        self.bodies.append(r.text)
        return r


def error(
    r: httpx.Response, status: int, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    if code is not None:
        assert err["code"] == code, err
    if param is not None:
        assert err["param"] == param, err
        assert param in err["message"], err  # the message names the field too
    return err


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    g = GatewayProcess(
        tmp_path_factory.mktemp("admin"),
        default_config(
            upstream.url,
            free_port(),
            admin={"key": ADMIN_KEY},
            security={"byok_endpoints": {"openai": ["openai.example"]}},
        ),
    )
    g.prepare()
    g.start()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def admin(gw: GatewayProcess) -> Admin:
    return Admin(gw.url)


def new_org(admin: Admin, prefix: str) -> dict[str, Any]:
    r = admin("POST", "/orgs", {"name": f"{prefix}-{time.time_ns()}"})
    assert r.status_code == 201, r.text
    return r.json()


# -- auth ------------------------------------------------------------------------------------------


def test_admin_routes_need_the_admin_key(gw, admin):
    error(admin("GET", "/orgs", key=None), 401, "missing_admin_key")
    error(admin("GET", "/orgs", key="not-the-admin-key"), 401, "invalid_admin_key")
    error(admin("GET", "/orgs", key=ADMIN_KEY + "x"), 401, "invalid_admin_key")
    error(admin("GET", "/orgs", key=gw.key), 401, "invalid_admin_key")  # a gateway key is not an admin key
    r = httpx.get(f"{gw.url}/admin/v1/orgs", headers={"Authorization": f"Basic {ADMIN_KEY}"})
    error(r, 401, "missing_admin_key")
    error(admin("POST", "/orgs", {"name": "sneaky"}, key="wrong"), 401)
    assert all(o["name"] != "sneaky" for o in admin("GET", "/orgs").json()["data"])
    assert admin("GET", "/orgs").status_code == 200


def test_admin_api_is_off_without_an_admin_key(gateway):
    for method, path in (("GET", "/orgs"), ("POST", "/orgs"), ("GET", "/orgs/test/credits")):
        r = httpx.request(
            method, f"{gateway.url}/admin/v1{path}", headers={"Authorization": "Bearer anything"}
        )
        err = error(r, 404, "admin_api_disabled")
        assert "admin.key" in err["message"] and "SWITCHYARD_ADMIN_KEY" in err["message"]


def test_admin_key_from_the_environment(upstream, tmp_path):
    g = GatewayProcess(
        tmp_path / "gw",
        default_config(upstream.url, free_port()),
        env={"SWITCHYARD_ADMIN_KEY": "env-admin-key-42-0123456789abcdefghij"},
    )
    g.prepare()
    g.start()
    try:
        client = Admin(g.url, key="env-admin-key-42-0123456789abcdefghij")
        assert client("GET", "/orgs").status_code == 200
        error(client("GET", "/orgs", key=ADMIN_KEY), 401, "invalid_admin_key")
    finally:
        g.stop()


def test_wrong_method_and_bad_bodies_answer_in_openai_shape(admin):
    error(admin("DELETE", "/orgs"), 405)
    error(admin("POST", "/orgs", content=b"{not json"), 400, "invalid_json")
    error(admin("POST", "/orgs", ["a", "list"]), 400, "invalid_json")
    error(admin("POST", "/orgs", {}), 400, param="name")
    error(admin("POST", "/orgs", {"name": "  "}), 400, param="name")
    error(admin("POST", "/orgs", {"name": "x", "colour": "red"}), 400, param="colour")
    error(admin("POST", "/orgs", content=b"{" + b" " * (2 * 1024 * 1024) + b"}"), 413)


# -- organisations ---------------------------------------------------------------------------------


def test_organisations_by_id_and_name(admin):
    org = new_org(admin, "acme")
    assert org["credits_enabled"] is False and org["limits"] == []
    error(admin("POST", "/orgs", {"name": org["name"]}), 409, "conflict")
    assert org["id"] in [o["id"] for o in admin("GET", "/orgs").json()["data"]]
    assert admin("GET", f"/orgs/{org['id']}").json() == org
    assert admin("GET", f"/orgs/{org['name']}").json() == org
    error(admin("GET", "/orgs/no-such-org"), 404, "not_found")
    error(admin("PATCH", "/orgs/no-such-org", {"credits_enabled": True}), 404)

    limits = [
        {"metric": "requests", "limit": 100, "window_seconds": 60},
        {"metric": "usd", "limit": 2.5, "window_seconds": 86400, "per": "user"},
        {"metric": "tokens", "limit": 1e6, "window_seconds": 3600, "per": "property:Team"},
    ]
    r = admin("PATCH", f"/orgs/{org['name']}", {"credits_enabled": True, "limits": limits})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["credits_enabled"] is True
    assert got["limits"] == [
        {"metric": "requests", "limit": 100, "window_seconds": 60, "per": "key"},
        {"metric": "usd", "limit": 2.5, "window_seconds": 86400, "per": "user"},
        {"metric": "tokens", "limit": 1e6, "window_seconds": 3600, "per": "property:team"},
    ]
    assert admin("GET", f"/orgs/{org['id']}").json() == got
    # a partial patch keeps what it does not name; an empty list clears
    assert admin("PATCH", f"/orgs/{org['id']}", {"credits_enabled": False}).json()["limits"] == got["limits"]
    cleared = admin("PATCH", f"/orgs/{org['id']}", {"limits": []}).json()
    assert cleared["limits"] == [] and cleared["credits_enabled"] is False


@pytest.mark.parametrize(
    ("limit", "param"),
    [
        ({"metric": "calls", "limit": 1, "window_seconds": 60}, "limits[0].metric"),
        ({"metric": "requests", "limit": 0, "window_seconds": 60}, "limits[0].limit"),
        ({"metric": "requests", "limit": -5, "window_seconds": 60}, "limits[0].limit"),
        ({"metric": "requests", "limit": 10, "window_seconds": 0}, "limits[0].window_seconds"),
        ({"metric": "requests", "limit": 10, "window_seconds": 31536001}, "limits[0].window_seconds"),
        ({"metric": "requests", "limit": 10, "window_seconds": 1.5}, "limits[0].window_seconds"),
        ({"metric": "requests", "limit": 10, "window_seconds": 60, "per": "team"}, "limits[0].per"),
        ({"metric": "requests", "limit": 10, "window_seconds": 60, "per": "property:"}, "limits[0].per"),
        ({"metric": "requests", "limit": 10}, "limits[0].window_seconds"),
        ({"metric": "requests", "limit": 10, "window_seconds": 60, "burst": 3}, "limits[0].burst"),
    ],
)
def test_bad_limits_are_400_naming_the_field(admin, limit, param):
    org = new_org(admin, "badlimits")
    error(admin("PATCH", f"/orgs/{org['id']}", {"limits": [limit]}), 400, "invalid_request", param)
    assert admin("GET", f"/orgs/{org['id']}").json()["limits"] == []  # nothing half-applied


def test_org_patch_types_are_strict(admin):
    org = new_org(admin, "strict")
    error(admin("PATCH", f"/orgs/{org['id']}", {"credits_enabled": "yes"}), 400, param="credits_enabled")
    error(admin("PATCH", f"/orgs/{org['id']}", {"limits": {"metric": "requests"}}), 400, param="limits")


# -- gateway keys ----------------------------------------------------------------------------------


def chat_status(gw: GatewayProcess, key: str) -> int:
    return httpx.post(
        f"{gw.url}/v1/chat/completions", json=CHAT, headers=gw.headers(key), timeout=30
    ).status_code


def test_gateway_key_lifecycle(gw, admin):
    org = new_org(admin, "keys")
    r = admin(
        "POST",
        f"/orgs/{org['name']}/keys",
        {
            "name": "ci",
            "allowed_models": ["gpt-4o-mini", " gpt-4o-mini "],
            "limits": [{"metric": "requests", "limit": 1000, "window_seconds": 60}],
        },
    )
    assert r.status_code == 201, r.text
    created = r.json()
    key = created["key"]
    assert key.startswith("sk-sy-") and created["prefix"] == key[:10] + "…"
    assert created["org_id"] == org["id"] and created["name"] == "ci" and created["active"] is True
    assert created["allowed_models"] == ["gpt-4o-mini"]
    assert created["limits"] == [{"metric": "requests", "limit": 1000, "window_seconds": 60, "per": "key"}]

    assert chat_status(gw, key) == 200  # usable at once

    listing = admin("GET", f"/orgs/{org['id']}/keys")
    assert [k["id"] for k in listing.json()["data"]] == [created["id"]]
    assert key not in listing.text  # shown exactly once
    assert admin("GET", f"/keys/{created['id']}").json()["allowed_models"] == ["gpt-4o-mini"]
    assert key not in admin("GET", f"/keys/{created['id']}").text

    patched = admin("PATCH", f"/keys/{created['id']}", {"name": "ci-2", "allowed_models": [], "limits": []})
    assert patched.status_code == 200, patched.text
    assert (
        patched.json()["name"] == "ci-2"
        and patched.json()["allowed_models"] == []
        and patched.json()["limits"] == []
    )
    error(admin("PATCH", f"/keys/{created['id']}", {"allowed_models": [""]}), 400, param="allowed_models[0]")
    error(admin("PATCH", f"/keys/{created['id']}", {"allowed_models": "gpt-4o"}), 400, param="allowed_models")
    error(admin("PATCH", "/keys/no-such-key", {"name": "x"}), 404)
    error(admin("POST", "/keys/no-such-key/revoke"), 404)
    error(admin("POST", "/orgs/no-such-org/keys", {}), 404)
    error(admin("GET", "/orgs/no-such-org/keys"), 404)

    revoked = admin("POST", f"/keys/{created['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["active"] is False and revoked.json()["revoked_at"]
    assert chat_status(gw, key) == 401  # this process dropped its cache at once
    assert admin("POST", f"/keys/{created['id']}/revoke").status_code == 200  # idempotent


def test_a_key_created_without_options_is_unrestricted(gw, admin):
    org = new_org(admin, "plain")
    created = admin("POST", f"/orgs/{org['id']}/keys").json()  # no body at all
    assert created["name"] is None and created["allowed_models"] == [] and created["limits"] == []
    assert chat_status(gw, created["key"]) == 200


# -- provider keys ---------------------------------------------------------------------------------


def test_provider_keys_never_show_the_secret(gw, admin):
    org = new_org(admin, "byok")
    base = f"/orgs/{org['name']}/provider-keys"
    r = admin(
        "POST",
        base,
        {
            "provider": "openai",
            "key": OPENAI_SECRET,
            "id": "team-openai",
            "config": {"base_url": "https://openai.example/v1"},
        },
    )
    assert r.status_code == 201, r.text
    pk = r.json()
    assert pk["id"] == "team-openai" and pk["provider"] == "openai" and pk["hint"] == OPENAI_SECRET[-4:]
    assert pk["config"] == {"base_url": "https://openai.example/v1"} and pk["enabled"] is True
    assert set(pk) == {"id", "org_id", "provider", "hint", "config", "enabled", "created_at", "updated_at"}
    error(
        admin("POST", base, {"provider": "openai", "key": OPENAI_SECRET, "id": "team-openai"}),
        409,
        "conflict",
    )

    # aliases resolve to the registry id; the id is generated when not given
    azure = admin(
        "POST",
        base,
        {
            "provider": "azure-openai",
            "key": "azure-key-0123456789",
            "config": {"resource": "myres", "deployment": "gpt4o", "api_version": "2024-10-21"},
        },
    )
    assert azure.status_code == 201 and azure.json()["provider"] == "azure" and azure.json()["id"]

    # Bedrock's secret parts are sealed with the key, never kept in the visible config
    bedrock = admin(
        "POST",
        base,
        {
            "provider": "bedrock",
            "key": AWS_ACCESS_KEY_ID,
            "id": "aws",
            "config": {"region": "eu-west-1", "secret_access_key": AWS_SECRET, "session_token": AWS_TOKEN},
        },
    )
    assert bedrock.status_code == 201, bedrock.text
    assert bedrock.json()["config"] == {"region": "eu-west-1"}

    listing = admin("GET", base).json()["data"]
    assert {k["id"] for k in listing} == {"team-openai", azure.json()["id"], "aws"}
    assert admin("GET", f"/orgs/{org['id']}/provider-keys/aws").json()["config"] == {"region": "eu-west-1"}

    rotated = admin(
        "PATCH",
        f"{base}/team-openai",
        {"key": OPENAI_SECRET_2, "config": {"base_url": None, "region": "us"}, "enabled": False},
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["hint"] == OPENAI_SECRET_2[-4:] and rotated.json()["enabled"] is False
    assert rotated.json()["config"] == {"region": "us"}
    assert admin("PATCH", f"{base}/team-openai", {"enabled": True}).json()["hint"] == OPENAI_SECRET_2[-4:]

    assert admin("DELETE", f"{base}/{azure.json()['id']}").json() == {
        "id": azure.json()["id"],
        "deleted": True,
    }
    error(admin("GET", f"{base}/{azure.json()['id']}"), 404)
    error(admin("DELETE", f"{base}/{azure.json()['id']}"), 404)
    error(admin("PATCH", f"{base}/nope", {"enabled": True}), 404)
    error(admin("GET", "/orgs/no-such-org/provider-keys"), 404)

    for body in admin.bodies:
        for secret in SECRETS:
            assert secret not in body
    time.sleep(0.2)
    log = gw.log_path.read_text()
    for secret in SECRETS:
        assert secret not in log


def test_a_provider_key_serves_the_organisations_calls_at_once(gw, admin, upstream):
    org = new_org(admin, "byok-live")
    key = admin("POST", f"/orgs/{org['id']}/keys").json()["key"]
    base = f"/orgs/{org['id']}/provider-keys"
    assert (
        admin(
            "POST",
            base,
            {
                "provider": "openai",
                "key": OPENAI_SECRET,
                "id": "mine",
                "config": {"base_url": f"{upstream.url}/byok/v1"},
            },
        ).status_code
        == 201
    )
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        json={**CHAT, "model": "gpt-4o-mini/openai/mine"},
        headers=gw.headers(key),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    seen = upstream.last("/byok/")
    assert seen.headers["authorization"] == f"Bearer {OPENAI_SECRET}"

    assert admin("DELETE", f"{base}/mine").status_code == 200
    before = len(upstream.seen)
    assert (
        httpx.post(
            f"{gw.url}/v1/chat/completions", json=CHAT, headers=gw.headers(key), timeout=30
        ).status_code
        == 200
    )
    assert all("/byok/" not in s.path for s in upstream.seen[before:])  # the deleted key is no longer used


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"provider": "no-such-provider", "key": "k" * 20}, "provider"),
        ({"provider": "openai"}, "key"),
        ({"provider": "openai", "key": ""}, "key"),
        ({"provider": "openai", "key": "k" * 20, "config": {"colour": "red"}}, "config"),
        ({"provider": "openai", "key": "k" * 20, "config": {"base_url": "ftp://x"}}, "config"),
        (
            {"provider": "openai", "key": "k" * 20, "config": {"secret_access_key": "s" * 20}},
            "config.secret_access_key",
        ),
        ({"provider": "openai", "key": "k" * 20, "id": "has/slash"}, "id"),
        ({"provider": "openai", "key": "k" * 20, "enabled": "no"}, "enabled"),
        (
            {"provider": "bedrock", "key": "k" * 20, "config": {"session_token": "t" * 20}},
            "config.session_token",
        ),
    ],
)
def test_bad_provider_keys_are_400_naming_the_field(admin, body, param):
    org = new_org(admin, "badpk")
    err = error(admin("POST", f"/orgs/{org['id']}/provider-keys", body), 400, param=param)
    assert "k" * 20 not in err["message"]
    assert admin("GET", f"/orgs/{org['id']}/provider-keys").json()["data"] == []


def test_bedrock_credentials_are_replaced_as_a_whole(admin):
    org = new_org(admin, "aws")
    base = f"/orgs/{org['id']}/provider-keys"
    assert (
        admin(
            "POST",
            base,
            {
                "provider": "aws",
                "key": AWS_ACCESS_KEY_ID,
                "id": "a",
                "config": {"secret_access_key": AWS_SECRET},
            },
        ).status_code
        == 201
    )
    error(
        admin("PATCH", f"{base}/a", {"config": {"session_token": AWS_TOKEN}}),
        400,
        param="config.session_token",
    )
    r = admin("PATCH", f"{base}/a", {"key": AWS_SECRET, "config": {"access_key_id": AWS_ACCESS_KEY_ID}})
    assert r.status_code == 200 and r.json()["hint"] == AWS_SECRET[-4:] and r.json()["config"] == {}
    assert all(s not in b for b in admin.bodies for s in SECRETS)


# -- credits ---------------------------------------------------------------------------------------


def test_credits_add_show_and_ledger(admin):
    org = new_org(admin, "credits")
    base = f"/orgs/{org['name']}/credits"
    empty = admin("GET", base).json()
    assert empty == {
        "org_id": org["id"],
        "credits_enabled": False,
        "balance_usd": 0.0,
        "reserved_usd": 0.0,
        "available_usd": 0.0,
    }
    assert admin("GET", f"{base}/ledger").json()["data"] == []

    r = admin("POST", base, {"amount_usd": 12.5, "note": "welcome"})
    assert r.status_code == 201, r.text
    assert r.json()["entry"]["kind"] == "grant" and r.json()["entry"]["amount_usd"] == 12.5
    assert r.json()["balance"]["balance_usd"] == 12.5
    assert admin("POST", f"/orgs/{org['id']}/credits", {"amount_usd": 0.25}).status_code == 201

    shown = admin("GET", base).json()
    assert shown["balance_usd"] == 12.75 and shown["reserved_usd"] == 0 and shown["available_usd"] == 12.75

    ledger = admin("GET", f"{base}/ledger").json()
    assert [(e["amount_usd"], e["note"]) for e in ledger["data"]] == [
        (0.25, None),
        (12.5, "welcome"),
    ]  # newest first
    page = admin("GET", f"{base}/ledger", params={"limit": 1, "offset": 1}).json()
    assert [e["note"] for e in page["data"]] == ["welcome"] and page["limit"] == 1 and page["offset"] == 1

    error(admin("GET", f"{base}/ledger", params={"limit": 0}), 400, param="limit")
    error(admin("GET", f"{base}/ledger", params={"limit": "ten"}), 400, param="limit")
    error(admin("GET", f"{base}/ledger", params={"offset": -1}), 400, param="offset")
    for bad in (0, -5, "5", None, 1e12, 1e-7):
        error(admin("POST", base, {"amount_usd": bad}), 400, param="amount_usd")
    error(admin("POST", base, {"amount_usd": 1, "memo": "x"}), 400, param="memo")
    error(admin("POST", "/orgs/no-such-org/credits", {"amount_usd": 1}), 404)
    error(admin("GET", "/orgs/no-such-org/credits"), 404)
    assert admin("GET", base).json()["balance_usd"] == 12.75  # the rejected grants changed nothing


# -- health ----------------------------------------------------------------------------------------


def test_health_snapshot(gw, admin):
    assert chat_status(gw, gw.key) == 200
    r = admin("GET", "/health")
    assert r.status_code == 200, r.text
    assert isinstance(r.json(), list)
    error(admin("GET", "/health", key=None), 401)
