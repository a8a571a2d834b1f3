"""Bad input gets a clear error in OpenAI's shape with the right status — never a stack trace, never a 500."""

from __future__ import annotations

import httpx
import pytest

UPSTREAM_KEYS = ("sk-upstream-openai-secret-0001", "sk-ant-upstream-secret-0002", "AIzaUpstreamSecret0003xyz")


def post(
    gateway, body: bytes | dict, *, key: str | None = None, path: str = "/v1/chat/completions", headers=None
) -> httpx.Response:
    h = {
        "Authorization": f"Bearer {key or gateway.key}",
        "content-type": "application/json",
        **(headers or {}),
    }
    if isinstance(body, dict):
        return httpx.post(gateway.url + path, json=body, headers=h, timeout=30)
    return httpx.post(gateway.url + path, content=body, headers=h, timeout=30)


def assert_openai_error(
    r: httpx.Response, status: int, code: str | None = None, param: str | None = None
) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    assert err["message"] and "Traceback" not in r.text
    if code is not None:
        assert err["code"] == code
    if param is not None:
        assert err["param"] == param
    for secret in UPSTREAM_KEYS:
        assert secret not in r.text
    return err


MSG = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        (b"{not json", 400, "invalid_json", None),
        (b"", 400, "invalid_json", None),
        (b"[1, 2]", 400, "invalid_json", None),
        ({"messages": MSG}, 400, "missing_model", "model"),
        ({"model": 42, "messages": MSG}, 400, "invalid_model", "model"),
        ({"model": "  ", "messages": MSG}, 400, "invalid_model", "model"),
        ({"model": "gpt-4o-mini"}, 400, "invalid_messages", "messages"),
        ({"model": "no-such-model-xyz", "messages": MSG}, 400, "model_not_found", "model"),
        ({"model": "!nosuchprovider,gpt-4o-mini", "messages": MSG}, 400, "invalid_model", "model"),
        ({"model": "!openai", "messages": MSG}, 400, "invalid_model", "model"),
    ],
)
def test_malformed_requests(gateway, body, status, code, param):
    assert_openai_error(post(gateway, body), status, code, param)


def test_unknown_model_message_says_what_to_do(gateway):
    err = assert_openai_error(
        post(gateway, {"model": "gpt-9-turbo", "messages": MSG}), 400, "model_not_found"
    )
    assert "gpt-9-turbo" in err["message"] and "/v1/models" in err["message"]


def test_missing_provider_key_names_the_variable(gateway):
    err = assert_openai_error(
        post(gateway, {"model": "gpt-4o/azure", "messages": MSG}), 400, "provider_key_missing"
    )
    assert "AZURE_OPENAI_API_KEY" in err["message"]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer sk-sy-not-a-real-key"}, {"Authorization": "Basic abc"}]
)
def test_bad_or_missing_gateway_key_is_401(gateway, headers):
    r = httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": MSG}, headers=headers
    )
    assert_openai_error(r, 401)


def test_body_over_the_limit_is_413(gateway):
    big = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * (1024 * 1024 + 10)}]}
    assert_openai_error(post(gateway, big), 413, "request_too_large")


def test_wrong_method_and_unknown_route(gateway):
    r = httpx.get(gateway.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {gateway.key}"})
    assert_openai_error(r, 405, "method_not_allowed")
    r = httpx.post(gateway.url + "/v1/no/such/route", headers={"Authorization": f"Bearer {gateway.key}"})
    assert_openai_error(r, 404)


@pytest.mark.parametrize(
    ("marker", "status", "fragment"),
    [
        ("error:400", 400, "Unsupported value"),
        ("error:404", 404, "does not exist"),
        ("error:429", 429, "rate-limited"),
        ("error:401", 401, "rejected the gateway's credentials"),
        ("500", 500, "server had an error"),
    ],
)
def test_upstream_errors_pass_through_with_status_and_message(gateway, marker, status, fragment):
    r = post(gateway, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"[[{marker}]]"}]})
    err = assert_openai_error(r, status)
    assert fragment.lower() in err["message"].lower()
    row = gateway.wait_row(r.headers["helicone-id"])
    assert row["response_status"] == status
    assert row["attempts"][0]["status"] == status
    for secret in UPSTREAM_KEYS:
        assert secret not in str(row)


def test_upstream_400_keeps_openai_param_and_code(gateway):
    r = post(gateway, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "[[error:400]]"}]})
    err = assert_openai_error(r, 400)
    assert err["param"] == "messages[0].role" and err["code"] == "unsupported_value"


def test_errors_are_logged_for_the_caller(gateway):
    r = post(gateway, b"{broken", headers={"Helicone-Property-Team": "qa"})
    row = gateway.wait_row(r.headers["helicone-id"])
    assert row["response_status"] == 400 and "not valid JSON" in row["error"]
    assert row["request_properties"]["team"] == "qa"


def test_midstream_error_becomes_an_error_event(gateway):
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "[[midstream-error]]"}],
        },
        headers={"Authorization": f"Bearer {gateway.key}"},
        timeout=30,
    ) as r:
        assert r.status_code == 200
        body = r.read().decode()
        rid = r.headers["helicone-id"]
    events = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    assert '"error"' in events[-1], "the stream must end with an error event, not a silent truncation"
    assert "overloaded mid-stream" in events[-1]
    row = gateway.wait_row(rid)
    assert "stream interrupted" in row["error"]


@pytest.mark.parametrize(
    ("path", "extra", "param"),
    [
        ("/v1/chat/completions", {"max_tokens": [None]}, "max_tokens"),
        ("/v1/chat/completions", {"max_tokens": 0}, "max_tokens"),
        ("/v1/chat/completions", {"max_completion_tokens": "9"}, "max_completion_tokens"),
        ("/v1/chat/completions", {"temperature": "hot"}, "temperature"),
        ("/v1/chat/completions", {"temperature": 7}, "temperature"),
        ("/v1/chat/completions", {"top_p": True}, "top_p"),
        ("/v1/chat/completions", {"stop": [1, 2]}, "stop"),
        ("/v1/chat/completions", {"tools": {"a": 1}}, "tools"),
        ("/v1/chat/completions", {"stream": "yes"}, "stream"),
        ("/v1/chat/completions", {"messages": ["hi"]}, "messages[0]"),
        ("/v1/chat/completions", {"messages": [{"content": "hi"}]}, "messages[0].role"),
        ("/v1/completions", {"max_tokens": [None]}, "max_tokens"),
        ("/v1/completions", {"logprobs": 9}, "logprobs"),
    ],
)
@pytest.mark.parametrize(
    "model", ["gpt-4o-mini", "claude-sonnet-4/anthropic", "gemini-2.5-flash/google-ai-studio"]
)
def test_wrongly_typed_standard_parameters_are_a_400_naming_them(gateway, path, extra, param, model):
    """A translator never meets a wrongly typed parameter (`max_tokens: [null]` to Claude was a 500)."""
    base = (
        {"model": model, "messages": MSG}
        if path.endswith("chat/completions")
        else {"model": model, "prompt": "hi"}
    )
    assert_openai_error(post(gateway, {**base, **extra}, path=path), 400, "invalid_type", param)
