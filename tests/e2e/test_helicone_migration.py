"""Moving from Helicone (issue 13): the names and headers Helicone users send, through a real gateway.

- `Helicone-Rate-Limit-Policy` (the hyphenated spelling of the LiteLLM seed) limits like `Helicone-RateLimit-Policy`;
- operator model aliases (`models.aliases`) route, chain and are listed by /v1/models.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from support.cli_inprocess import run_cli
from support.gateway import GatewayProcess, cli, default_config, free_port

ADMIN_KEY = "admin-e2e-migration-0123456789abcdefgh"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ALIASES = {
    "my-gpt": "gpt-4o-mini/openai",
    "my-chain": "no-such-model/openai, gpt-4o-mini/openai",
    "sized": "gpt-3.5-turbo/openai, gpt-4o-mini/openai",
}


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    g = GatewayProcess(
        tmp_path_factory.mktemp("gateway-migration"),
        default_config(upstream.url, free_port(), models={"aliases": ALIASES}, admin={"key": ADMIN_KEY}),
    )
    g.prepare()
    g.start()
    yield g
    g.stop()


def chat(gw: GatewayProcess, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(
        gw.url + "/v1/chat/completions", json=payload, headers={**gw.headers(), **(headers or {})}, timeout=30
    )


def test_hyphenated_rate_limit_policy_limits_like_the_canonical_header(gw):
    for remaining in ("1", "0"):
        r = chat(gw, {"Helicone-Rate-Limit-Policy": "2;w=71"})
        assert r.status_code == 200, r.text
        assert r.headers["helicone-ratelimit-remaining"] == remaining
        assert r.headers["helicone-ratelimit-policy"] == "2;w=71;u=request"
    refused = chat(gw, {"Helicone-Rate-Limit-Policy": "2;w=71"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    # the same counter as the canonical spelling: both name one policy
    assert chat(gw, {"Helicone-RateLimit-Policy": "2;w=71"}).status_code == 429


def test_hyphenated_policy_is_validated_too(gw):
    r = chat(gw, {"Helicone-Rate-Limit-Policy": "lots"})
    assert r.status_code == 400
    assert "Helicone-RateLimit-Policy" in r.json()["error"]["message"]


def test_canonical_spelling_wins_when_both_are_sent(gw):
    r = chat(gw, {"Helicone-RateLimit-Policy": "5;w=72", "Helicone-Rate-Limit-Policy": "1;w=73"})
    assert r.status_code == 200
    assert r.headers["helicone-ratelimit-policy"] == "5;w=72;u=request"


def test_alias_routes_to_its_target_and_is_logged(gw):
    r = chat(gw, model="my-gpt")
    assert r.status_code == 200, r.text
    row = gw.wait_row(r.headers["helicone-id"])
    assert row["provider"] == "openai"
    assert [a["model"] for a in row["attempts"]] == ["gpt-4o-mini"]


def test_alias_to_a_chain_starts_with_its_first_item(gw):
    r = chat(gw, model="my-chain")
    assert r.status_code == 200, r.text
    row = gw.wait_row(r.headers["helicone-id"])
    # the mock answers any name; the chain's order (tests/unit/test_model_aliases.py) starts at its first item
    assert row["attempts"][0]["model"] == "no-such-model" and row["attempts"][-1]["status"] == 200


def test_aliases_are_listed_by_v1_models(gw):
    data = httpx.get(gw.url + "/v1/models", headers=gw.headers(), timeout=10).json()["data"]
    ids = {m["id"]: m for m in data}
    assert ids["my-gpt"]["owned_by"] == "switchyard" and "my-chain" in ids and "gpt-4o-mini" in ids
    one = httpx.get(gw.url + "/v1/models/my-gpt", headers=gw.headers(), timeout=10)
    assert one.status_code == 200 and one.json()["id"] == "my-gpt"
    anthropic = httpx.get(
        gw.url + "/v1/models?limit=1000",
        headers={"x-api-key": gw.key, "anthropic-version": "2023-06-01"},
        timeout=10,
    ).json()["data"]
    assert "my-gpt" in {m["id"] for m in anthropic}


def test_unknown_alias_like_name_is_still_model_not_found(gw):
    r = chat(gw, model="my-gpt-5")
    assert r.status_code == 400 and r.json()["error"]["code"] == "model_not_found"


# -- Helicone-Token-Limit-Exception-Handler ---------------------------------------------------------------------

BIG = (
    "Once upon a time " + "lorem ipsum dolor sit amet " * 4000 + " the end."
)  # ~108k chars: > gpt-3.5-turbo's


def test_truncate_fits_a_large_prompt_into_the_context(gw, upstream):
    r = chat(
        gw,
        {"Helicone-Token-Limit-Exception-Handler": "truncate"},
        model="gpt-3.5-turbo",
        messages=[{"role": "user", "content": BIG}],
    )
    assert r.status_code == 200, r.text
    sent = upstream.last("/v1/chat/completions").body
    text = sent["messages"][0]["content"]
    assert sent["model"] == "gpt-3.5-turbo" and text.startswith("Once upon a time lorem")
    assert len(text) <= (16385 - 1638) * 4 and not text.endswith("the end.")


def test_middle_out_keeps_both_ends(gw, upstream):
    r = chat(
        gw,
        {"Helicone-Token-Limit-Exception-Handler": "middle-out"},
        model="gpt-3.5-turbo",
        messages=[{"role": "user", "content": BIG}],
    )
    assert r.status_code == 200, r.text
    text = upstream.last("/v1/chat/completions").body["messages"][0]["content"]
    assert text.startswith("Once upon a time") and text.endswith("the end.") and len(text) < len(BIG)


def test_without_the_header_the_prompt_goes_as_sent(gw, upstream):
    r = chat(gw, model="gpt-3.5-turbo", messages=[{"role": "user", "content": BIG}])
    assert r.status_code == 200, r.text
    assert upstream.last("/v1/chat/completions").body["messages"][0]["content"] == BIG


def test_fallback_sends_a_large_prompt_to_the_second_model_and_a_small_one_to_the_first(gw, upstream):
    headers = {"Helicone-Token-Limit-Exception-Handler": "fallback"}
    chain = "gpt-3.5-turbo/openai, gpt-4o-mini/openai"
    r = chat(gw, headers, model=chain, messages=[{"role": "user", "content": BIG}])
    assert r.status_code == 200, r.text
    assert upstream.last("/v1/chat/completions").body["model"] == "gpt-4o-mini"
    assert [a["model"] for a in gw.wait_row(r.headers["helicone-id"])["attempts"]] == ["gpt-4o-mini"]
    r = chat(gw, headers, model=chain)
    assert r.status_code == 200, r.text
    assert upstream.last("/v1/chat/completions").body["model"] == "gpt-3.5-turbo"
    assert [a["model"] for a in gw.wait_row(r.headers["helicone-id"])["attempts"]] == ["gpt-3.5-turbo"]


def test_fallback_through_an_alias_of_a_chain(gw, upstream):
    headers = {"Helicone-Token-Limit-Exception-Handler": "fallback"}
    r = chat(gw, headers, model="sized", messages=[{"role": "user", "content": BIG}])
    assert r.status_code == 200, r.text
    assert upstream.last("/v1/chat/completions").body["model"] == "gpt-4o-mini"


def test_an_unknown_handler_is_a_400_in_the_callers_shape(gw):
    r = chat(gw, {"Helicone-Token-Limit-Exception-Handler": "shrink"})
    assert r.status_code == 400
    assert "truncate, middle-out, fallback" in r.json()["error"]["message"]


# -- Helicone-Model-Override ------------------------------------------------------------------------------------


def test_model_override_records_and_prices_a_custom_deployment(gw):
    plain = chat(gw, model="my-deploy/my-vllm")
    assert plain.status_code == 200, plain.text
    row = gw.wait_row(plain.headers["helicone-id"])
    assert row["costUSD"] is None  # a name the registry lacks: never guessed
    r = chat(gw, {"Helicone-Model-Override": "gpt-4o-mini"}, model="my-deploy/my-vllm")
    assert r.status_code == 200, r.text
    row = gw.wait_row(r.headers["helicone-id"])
    assert row["model"] == "gpt-4o-mini"
    expected = (row["prompt_tokens"] * 0.15 + row["completion_tokens"] * 0.6) / 1e6
    assert row["costUSD"] == pytest.approx(expected) and row["costUSD"] > 0


def test_model_override_cannot_lower_the_price_of_a_priced_model(gw):
    own = gw.wait_row(chat(gw, model="gpt-4o/openai").headers["helicone-id"])
    claimed = gw.wait_row(
        chat(gw, {"Helicone-Model-Override": "gpt-4o-mini"}, model="gpt-4o/openai").headers["helicone-id"]
    )
    assert claimed["model"] == "gpt-4o-mini"
    assert claimed["costUSD"] == pytest.approx(own["costUSD"]) and own["costUSD"] > 0


# -- Helicone-Stripe-Customer-Id: usage per customer ------------------------------------------------------------


def test_usage_per_stripe_customer_over_the_admin_api_and_the_cli(gw):
    stripe = "Helicone-Stripe-Customer-Id"
    ids = {
        "cus_A": [chat(gw, {stripe: "cus_A"}).headers["helicone-id"] for _ in range(2)],
        "cus_B": [chat(gw, {stripe: "cus_B"}, model="gpt-4o/openai").headers["helicone-id"]],
    }
    rows = {c: [gw.wait_row(i) for i in v] for c, v in ids.items()}
    assert rows["cus_A"][0]["request_properties"]["helicone-stripe-customer-id"] == "cus_A"  # on the row
    r = httpx.get(
        gw.url + "/admin/v1/orgs/test/usage",
        params={"group_by": "customer", "start": "2000-01-01", "end": "2100-01-01T00:00:00Z"},
        headers=ADMIN,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    got = {d["customer"]: d for d in r.json()["data"]}
    assert set(got) == {"cus_A", "cus_B"}  # requests without the header are nobody's
    for customer, logged in rows.items():
        d = got[customer]
        assert d["requests"] == len(logged)
        assert d["prompt_tokens"] == sum(x["prompt_tokens"] for x in logged)
        assert d["completion_tokens"] == sum(x["completion_tokens"] for x in logged)
        assert d["cost_usd"] == pytest.approx(sum(x["costUSD"] for x in logged)) and d["cost_usd"] > 0

    empty = httpx.get(
        gw.url + "/admin/v1/orgs/test/usage",
        params={"start": "2000-01-01", "end": "2000-02-01"},
        headers=ADMIN,
        timeout=10,
    )
    assert empty.status_code == 200 and empty.json()["data"] == []
    bad = httpx.get(
        gw.url + "/admin/v1/orgs/test/usage", params={"start": "yesterday"}, headers=ADMIN, timeout=10
    )
    assert bad.status_code == 400 and "ISO 8601" in bad.json()["error"]["message"]
    assert (
        httpx.get(
            gw.url + "/admin/v1/orgs/test/usage", params={"group_by": "model"}, headers=ADMIN, timeout=10
        ).status_code
        == 400
    )
    assert (
        httpx.get(gw.url + "/admin/v1/orgs/test/usage", headers=gw.headers(), timeout=10).status_code == 401
    )

    out = cli(gw.home, gw.config_path, "usage", "--org", "test", "--by", "customer", "--start", "2000-01-01")
    lines = out.splitlines()
    assert lines[1].split() == ["CUSTOMER", "REQUESTS", "PROMPT_TOKENS", "COMPLETION_TOKENS", "COST_USD"]
    assert any(line.split()[:2] == ["cus_A", "2"] for line in lines[2:])
    as_json = orjson.loads(
        cli(gw.home, gw.config_path, "usage", "--org", "test", "--start", "2000-01-01", "--json")
    )
    assert {d["customer"]: d["requests"] for d in as_json["data"]} == {"cus_A": 2, "cus_B": 1}


# -- switchyard keys import ----------------------------------------------------------------------------------------

HELICONE_KEY = "sk-helicone-ab12cd3-ef45gh6-ij78kl9-mn01op2"


def import_key(gw: GatewayProcess, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SWITCHYARD_HOME": str(gw.home), "SWITCHYARD_CONFIG": str(gw.config_path)}
    return run_cli(["keys", "import", "--org", "test", *args], env=env, stdin=key + "\n")


def test_an_imported_helicone_key_authenticates_and_is_stored_only_as_a_hash(gw):
    assert chat(gw, {"Authorization": f"Bearer {HELICONE_KEY}"}).status_code == 401  # not yet
    done = import_key(gw, HELICONE_KEY, "--name", "from-helicone")
    assert done.returncode == 0, done.stderr
    assert "sk-helicone-ab12…" in done.stdout and HELICONE_KEY not in done.stdout
    deadline = time.monotonic() + 10  # the gateway drops its negative cache within a second or so
    while (r := chat(gw, {"Authorization": f"Bearer {HELICONE_KEY}"})).status_code != 200:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)
    # Helicone's own header works too, and the request lands in the organisation's log
    r = chat(gw, {"Authorization": "", "Helicone-Auth": f"Bearer {HELICONE_KEY}"})
    assert r.status_code == 200, r.text
    assert gw.wait_row(r.headers["helicone-id"])["key_id"]
    db = b"".join(p.read_bytes() for p in gw.home.glob("switchyard.db*"))  # the database and its WAL
    assert HELICONE_KEY.encode() not in db and b"ab12cd3-ef45gh6" not in db
    again = import_key(gw, HELICONE_KEY)
    assert again.returncode == 1 and "already registered" in again.stderr


def test_import_refuses_a_key_that_could_never_authenticate(gw):
    for bad in ("sk-proj-0123456789abcdefghijklmnop", "hello", "sk-helicone-short"):
        done = import_key(gw, bad)
        assert done.returncode == 1 and "Not an importable key" in done.stderr, done.stderr
    assert import_key(gw, "").returncode == 1


# -- Helicone proxy style: the caller's own provider key ---------------------------------------------------------------

CALLER_OPENAI = "sk-caller-own-openai-key-7f3a9c01"
CALLER_ANTHROPIC = "sk-ant-caller-own-key-5e2b8d44"
GATEWAY_OPENAI = "sk-upstream-openai-secret-0001"  # default_config's OpenAI key


def proxy_style(gw: GatewayProcess, key: str, provider_key: str, header: str = "Authorization", **body: Any):
    value = f"Bearer {provider_key}" if header == "Authorization" else provider_key
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(
        gw.url + "/v1/chat/completions",
        json=payload,
        headers={"Helicone-Auth": f"Bearer {key}", header: value},
        timeout=30,
    )


@pytest.fixture(scope="module")
def proxy_org(gw: GatewayProcess) -> str:
    key = gw.new_key("proxy-style")
    out = cli(gw.home, gw.config_path, "orgs", "update", "proxy-style", "--allow-caller-provider-keys")
    assert "caller provider keys allowed" in out
    return key


def test_caller_provider_keys_are_ignored_unless_the_organisation_allows_them(gw, upstream):
    r = proxy_style(gw, gw.key, CALLER_OPENAI)
    assert r.status_code == 200, r.text
    assert upstream.last("/v1/chat/completions").headers["authorization"] == f"Bearer {GATEWAY_OPENAI}"
    org = httpx.get(gw.url + "/admin/v1/orgs/test", headers=ADMIN, timeout=10).json()
    assert org["allow_caller_provider_keys"] is False


def test_an_allowed_organisation_uses_the_callers_key_for_that_request_only(gw, upstream, proxy_org):
    deadline = time.monotonic() + 10  # the gateway sees the organisation's change within about a second
    while True:
        r = proxy_style(gw, proxy_org, CALLER_OPENAI)
        assert r.status_code == 200, r.text
        sent = upstream.last("/v1/chat/completions").headers["authorization"]
        if sent == f"Bearer {CALLER_OPENAI}" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sent == f"Bearer {CALLER_OPENAI}"
    row = gw.wait_row(r.headers["helicone-id"], key=proxy_org)
    assert [a["source"] for a in row["attempts"]] == ["gpt-4o-mini/openai/byok/caller"]
    # the next request without a provider key is served with the gateway's own key again
    r = httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Helicone-Auth": f"Bearer {proxy_org}"},
        timeout=30,
    )
    assert r.status_code == 200 and upstream.last("/v1/chat/completions").headers["authorization"] == (
        f"Bearer {GATEWAY_OPENAI}"
    )
    # x-api-key goes to Anthropic (Helicone's anthropic proxy)
    r = proxy_style(gw, proxy_org, CALLER_ANTHROPIC, header="x-api-key", model="claude-sonnet-4")
    assert r.status_code == 200, r.text
    assert upstream.last("/anthropic").headers["x-api-key"] == CALLER_ANTHROPIC
    # never stored, never logged
    stored = b"".join(p.read_bytes() for p in gw.home.glob("switchyard.db*")) + gw.log_path.read_bytes()
    assert CALLER_OPENAI.encode() not in stored and CALLER_ANTHROPIC.encode() not in stored


def test_the_callers_key_goes_to_one_provider_and_never_falls_back(gw, upstream, proxy_org):
    before = len([s for s in upstream.seen if "/anthropic" in s.path])
    r = proxy_style(
        gw,
        proxy_org,
        CALLER_OPENAI,
        model="gpt-4o-mini/openai, claude-sonnet-4/anthropic",
        messages=[{"role": "user", "content": "[[error:429]]"}],
    )
    assert r.status_code == 429
    assert len([s for s in upstream.seen if "/anthropic" in s.path]) == before  # not sent on to Anthropic
    row = gw.wait_row(r.headers["helicone-id"], key=proxy_org)
    assert [a["source"] for a in row["attempts"]] == ["gpt-4o-mini/openai/byok/caller"]
    assert CALLER_OPENAI not in r.text


def test_a_gateway_key_in_both_headers_is_not_sent_upstream(gw, upstream, proxy_org):
    r = proxy_style(gw, proxy_org, proxy_org)
    assert r.status_code == 200, r.text
    assert upstream.last("/v1/chat/completions").headers["authorization"] == f"Bearer {GATEWAY_OPENAI}"


def test_the_admin_api_switches_caller_provider_keys(gw):
    org = "admin-switched"
    gw.new_key(org)
    r = httpx.patch(
        gw.url + f"/admin/v1/orgs/{org}", json={"allow_caller_provider_keys": True}, headers=ADMIN, timeout=10
    )
    assert r.status_code == 200 and r.json()["allow_caller_provider_keys"] is True
    r = httpx.patch(gw.url + f"/admin/v1/orgs/{org}", json={"limits": []}, headers=ADMIN, timeout=10)
    assert r.json()["allow_caller_provider_keys"] is True  # other changes keep it
    r = httpx.patch(
        gw.url + f"/admin/v1/orgs/{org}",
        json={"allow_caller_provider_keys": False},
        headers=ADMIN,
        timeout=10,
    )
    assert r.json()["allow_caller_provider_keys"] is False
