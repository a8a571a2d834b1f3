"""Managed prompts through a real gateway: created and deployed with the admin API, invoked with the OpenAI SDK
(`extra_body` carries prompt_id, environment, version_id, inputs), to OpenAI and to Claude (translated),
streamed and not, cached; deploy and roll back change what the upstream receives; 400s; the log row and the
query API's prompt_id filter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from openai import BadRequestError, OpenAI

from support.gateway import GatewayProcess, serving

ADMIN_KEY = "admin-prompts-0123456789abcdef-0123456789"
V1 = {
    "model": "gpt-4o-mini",
    "temperature": 0.2,
    "max_tokens": 40,
    "messages": [
        {"role": "system", "content": "You help {{hc:name:string}}, age {{hc:age:number}}."},
        {"role": "user", "content": "Plan a {{hc:days:number}}-day trip. {{hcp:shared:0}}"},
    ],
}
SHARED = {"messages": [{"role": "system", "content": "Answer in {{hc:lang:string}}."}]}
INPUTS = {"name": "Ada", "age": 36, "days": "3", "lang": "French"}


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with serving(tmp_path_factory.mktemp("prompts"), upstream.url, admin={"key": ADMIN_KEY}) as g:
        yield g


def admin(gw: GatewayProcess, method: str, path: str, json: Any = None) -> httpx.Response:
    return httpx.request(
        method,
        f"{gw.url}/admin/v1/orgs/test{path}",
        json=json,
        timeout=10,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )


def client(gw: GatewayProcess, **headers: str) -> OpenAI:
    return OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, default_headers=headers or None)


@pytest.fixture(scope="module")
def prompt(gw) -> dict[str, str]:
    r = admin(gw, "POST", "/prompts", {"id": "shared", "body": SHARED})
    assert r.status_code == 201, r.text
    r = admin(gw, "POST", "/prompts", {"name": "trip planner", "body": V1})
    assert r.status_code == 201, r.text
    created = r.json()
    assert len(created["id"]) == 6 and created["version_id"]
    r = admin(
        gw,
        "POST",
        f"/prompts/{created['id']}/versions",
        {
            "body": {
                **V1,
                "temperature": 0.9,
                "messages": [{"role": "system", "content": "V2 {{hc:name:string}}"}],
            }
        },
    )
    assert r.status_code == 201, r.text
    return {"id": created["id"], "v1": created["version_id"], "v2": r.json()["version_id"]}


def sent_messages(upstream, path: str = "/chat/completions") -> list[dict[str, Any]]:
    return upstream.last(path).body["messages"]


def test_invoke_non_stream_and_stream_to_openai(gw, upstream, prompt):
    c = client(gw)
    r = c.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "extra turn"}],
        extra_body={"prompt_id": prompt["id"], "inputs": INPUTS},
    )
    assert r.parse().choices[0].message.content
    body = upstream.last("/v1/chat/completions").body
    assert body["messages"] == [
        {"role": "system", "content": "You help Ada, age 36."},
        {"role": "user", "content": "Plan a 3-day trip. Answer in French."},
        {"role": "user", "content": "extra turn"},
    ]
    assert body["temperature"] == 0.2 and not {"prompt_id", "inputs", "environment"} & body.keys()
    rid = r.headers["helicone-id"]

    chunks = list(
        c.chat.completions.create(
            model="gpt-4o-mini",
            stream=True,
            temperature=0.5,
            messages=[],
            extra_body={"prompt_id": prompt["id"], "inputs": INPUTS},
        )
    )
    assert chunks and upstream.last("/v1/chat/completions").body["temperature"] == 0.5  # the caller overrides
    assert upstream.last("/v1/chat/completions").body["stream"] is True

    row = gw.wait_row(rid)
    assert row["prompt_id"] == prompt["id"]
    props = row["request_properties"]
    assert props["helicone-prompt-version-id"] == prompt["v1"]
    assert props["helicone-prompt-environment"] == "production"
    assert orjson.loads(props["helicone-prompt-inputs"]) == INPUTS
    ids = {
        x["request_id"] for x in gw.query({"filter": {"request": {"prompt_id": {"equals": prompt["id"]}}}})
    }
    assert rid in ids


def test_invoke_to_claude_translated(gw, upstream, prompt):
    c = client(gw)
    out = c.chat.completions.create(
        model="claude-sonnet-4/anthropic",
        messages=[],
        extra_body={"prompt_id": prompt["id"], "inputs": INPUTS},
    )
    assert out.choices[0].message.content
    sent = upstream.last("/anthropic/v1/messages").body
    system = (
        sent["system"] if isinstance(sent["system"], str) else " ".join(b["text"] for b in sent["system"])
    )
    assert "You help Ada, age 36." in system and "Plan a 3-day trip. Answer in French." in str(
        sent["messages"]
    )
    stream = list(
        c.chat.completions.create(
            model="claude-sonnet-4/anthropic",
            stream=True,
            messages=[],
            extra_body={"prompt_id": prompt["id"], "inputs": INPUTS},
        )
    )
    assert stream and upstream.last("/anthropic/v1/messages").body["stream"] is True


def test_deploy_and_rollback_change_what_is_sent(gw, upstream, prompt):
    c = client(gw)

    def system_sent(**extra: Any) -> str:
        c.chat.completions.create(
            model="gpt-4o-mini",
            messages=[],
            extra_body={"prompt_id": prompt["id"], "inputs": INPUTS, **extra},
        )
        return sent_messages(upstream, "/v1/chat/completions")[0]["content"]

    assert system_sent() == "You help Ada, age 36."
    assert system_sent(version_id=prompt["v2"]) == "V2 Ada"  # a version by id, not deployed anywhere
    r = admin(gw, "PUT", f"/prompts/{prompt['id']}/environments/staging", {"version_id": prompt["v2"]})
    assert r.status_code == 200, r.text
    assert system_sent(environment="staging") == "V2 Ada"
    assert system_sent() == "You help Ada, age 36."
    assert (
        admin(
            gw, "PUT", f"/prompts/{prompt['id']}/environments/production", {"version_id": prompt["v2"]}
        ).status_code
        == 200
    )
    assert system_sent() == "V2 Ada"
    assert upstream.last("/v1/chat/completions").body["temperature"] == 0.9
    assert (
        admin(
            gw, "PUT", f"/prompts/{prompt['id']}/environments/production", {"version_id": prompt["v1"]}
        ).status_code
        == 200
    )  # roll back
    assert system_sent() == "You help Ada, age 36."
    got = admin(gw, "GET", f"/prompts/{prompt['id']}").json()
    assert got["environments"] == {"production": prompt["v1"], "staging": prompt["v2"]}
    assert [v["number"] for v in got["versions"]] == [1, 2] and got["versions"][0]["body"] == V1
    listed = {p["id"] for p in admin(gw, "GET", "/prompts").json()["data"]}
    assert {prompt["id"], "shared"} <= listed


def test_cached_answers_follow_the_deployed_version(gw, upstream, prompt):
    c = client(gw, **{"Helicone-Cache-Enabled": "true"})
    args = {
        "model": "gpt-4o-mini",
        "messages": [],
        "extra_body": {"prompt_id": prompt["id"], "inputs": INPUTS, "environment": "qa"},
    }
    admin(gw, "PUT", f"/prompts/{prompt['id']}/environments/qa", {"version_id": prompt["v1"]})
    first = c.chat.completions.with_raw_response.create(**args)
    again = c.chat.completions.with_raw_response.create(**args)
    assert again.headers.get("helicone-cache", "").upper() == "HIT"
    admin(gw, "PUT", f"/prompts/{prompt['id']}/environments/qa", {"version_id": prompt["v2"]})
    after = c.chat.completions.with_raw_response.create(**args)
    assert after.headers.get("helicone-cache", "").upper() == "MISS", first.headers
    assert sent_messages(upstream, "/v1/chat/completions")[0]["content"] == "V2 Ada"


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ({"inputs": {**INPUTS, "age": "old"}}, "Variable 'age' is 'number' but got 'old'"),
        ({"inputs": {"name": "Ada"}}, "Variable 'age' has no value"),
        ({"environment": "nowhere"}, "not found (environment 'nowhere')"),
        ({"inputs": "x"}, "'inputs' must be an object"),
    ],
)
def test_bad_invocations_are_400s(gw, prompt, extra, fragment):
    with pytest.raises(BadRequestError) as e:
        client(gw).chat.completions.create(
            model="gpt-4o-mini", messages=[], extra_body={"prompt_id": prompt["id"], **extra}
        )
    assert fragment in e.value.message


def test_unknown_prompt_and_responses_mapping_are_400s(gw, prompt):
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers=gw.headers(),
        timeout=10,
        json={"model": "gpt-4o-mini", "prompt_id": "nope00"},
    )
    assert r.status_code == 400 and "Prompt 'nope00' not found" in r.json()["error"]["message"]
    r = httpx.post(
        f"{gw.url}/chat/completions",
        timeout=10,  # the un-prefixed path too
        headers={**gw.headers(), "Helicone-Gateway-Body-Mapping": "RESPONSES"},
        json={"model": "gpt-4o-mini", "prompt_id": prompt["id"], "inputs": INPUTS},
    )
    assert r.status_code == 400 and "Chat Completions only" in r.json()["error"]["message"]


def test_no_mapping_skips_expansion(gw, upstream, prompt):
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        timeout=10,
        headers={**gw.headers(), "Helicone-Gateway-Body-Mapping": "NO_MAPPING"},
        json={
            "model": "gpt-4o-mini",
            "prompt_id": prompt["id"],
            "messages": [{"role": "user", "content": "{{hc:name:string}}"}],
        },
    )
    assert r.status_code == 200, r.text  # forwarded as the caller wrote it: no saved messages, no variables
    assert sent_messages(upstream, "/v1/chat/completions") == [
        {"role": "user", "content": "{{hc:name:string}}"}
    ]


def test_legacy_prompt_header_still_recorded(gw):
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        timeout=10,
        headers={**gw.headers(), "Helicone-Prompt-Id": "legacy-1"},
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200
    row = gw.wait_row(r.headers["helicone-id"])
    assert row["prompt_id"] == "legacy-1" and row["request_properties"]["helicone-prompt-id"] == "legacy-1"


def test_admin_validation(gw, prompt):
    r = httpx.get(f"{gw.url}/admin/v1/orgs/test/prompts", headers=gw.headers(), timeout=10)
    assert r.status_code == 401  # a gateway key is not the admin key
    r = httpx.put(
        f"{gw.url}/admin/v1/orgs/test/prompts/{prompt['id']}/environments/production",
        json={"version_id": prompt["v2"]},
        timeout=10,
    )
    assert r.status_code == 401
    assert admin(gw, "POST", "/prompts", {"body": {"model": "x"}}).status_code == 400
    assert admin(gw, "POST", "/prompts", {"id": "shared", "body": SHARED}).status_code == 409
    assert admin(gw, "POST", "/prompts/zzz999/versions", {"body": SHARED}).status_code == 404
    assert (
        admin(gw, "PUT", f"/prompts/{prompt['id']}/environments/prod", {"version_id": "bad"}).status_code
        == 404
    )
    assert (
        admin(
            gw, "PUT", f"/prompts/{prompt['id']}/environments/b%20d", {"version_id": prompt["v1"]}
        ).status_code
        == 400
    )
    assert admin(gw, "GET", "/prompts/zzz999").status_code == 404


def test_omit_request_drops_the_inputs_from_the_row(gw, prompt):
    c = client(gw, **{"Helicone-Omit-Request": "true"})
    r = c.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[], extra_body={"prompt_id": prompt["id"], "inputs": INPUTS}
    )
    row = gw.wait_row(r.headers["helicone-id"])
    assert row["prompt_id"] == prompt["id"] and "helicone-prompt-inputs" not in row["request_properties"]
    assert "Ada" not in orjson.dumps(row).decode()


def rest(gw: GatewayProcess, path: str, body: Any, key: str | None = None) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/prompt-2025{path}", json=body, headers=gw.headers(key), timeout=10)


def test_helicone_rest_paths(gw, upstream):
    """Helicone's documented /v1/prompt-2025 calls with the gateway key: create, update (+ environment),
    set environment, query the environment's version; another organisation's key sees nothing."""
    r = rest(
        gw,
        "",
        {
            "name": "Support Bot",
            "tags": ["support"],
            "promptBody": {
                "model": "gpt-4o-mini",
                "messages": [{"role": "system", "content": "Bot for {{hc:co:string}}"}],
            },
        },
    )
    assert r.status_code == 200, r.text
    pid, v1 = r.json()["id"], r.json()["versionId"]
    r = rest(
        gw,
        "/update",
        {
            "promptId": pid,
            "promptVersionId": v1,
            "newMajorVersion": True,
            "commitMessage": "v2",
            "environment": "staging",
            "promptBody": {
                "model": "gpt-4o-mini",
                "messages": [{"role": "system", "content": "V2 {{hc:co:string}}"}],
            },
        },
    )
    assert r.status_code == 200, r.text
    v2 = r.json()["id"]
    got = rest(gw, "/query/environment-version", {"promptId": pid, "environment": "staging"}).json()
    assert got["id"] == v2 and got["prompt_id"] == pid and got["major_version"] == 2
    assert (
        got["environment"] == "staging"
        and got["prompt_body"]["messages"][0]["content"] == "V2 {{hc:co:string}}"
    )
    assert (
        rest(gw, "/query/environment-version", {"promptId": pid, "environment": "production"}).json()["id"]
        == v1
    )

    r = rest(gw, "/update/environment", {"promptId": pid, "promptVersionId": v2, "environment": "production"})
    assert r.status_code == 200 and r.json() is None
    client(gw).chat.completions.create(
        model="gpt-4o-mini", messages=[], extra_body={"prompt_id": pid, "inputs": {"co": "Acme"}}
    )
    assert sent_messages(upstream, "/v1/chat/completions")[0]["content"] == "V2 Acme"

    other = gw.new_key("prompts-other-org")
    assert (
        rest(
            gw, "/query/environment-version", {"promptId": pid, "environment": "production"}, key=other
        ).status_code
        == 404
    )
    with pytest.raises(BadRequestError):  # another organisation's prompts are not found
        OpenAI(base_url=f"{gw.url}/v1", api_key=other, max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=[], extra_body={"prompt_id": pid}
        )
    assert rest(gw, "", {"name": "x", "promptBody": {"model": "m"}}).status_code == 400
    assert httpx.post(f"{gw.url}/v1/prompt-2025", json={}, timeout=10).status_code == 401
