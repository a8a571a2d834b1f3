"""A caller cannot override the operator's upstream credentials or target through its own headers, and no
upstream response header reaches the caller (the gateway writes its own)."""

from __future__ import annotations

import httpx
import pytest

ATTACKER = "sk-attacker-chosen-credential-000000000"
OPERATOR = {
    "/v1/chat/completions": ("authorization", "Bearer sk-upstream-openai-secret-0001"),
    "/anthropic/v1/messages": ("x-api-key", "sk-ant-upstream-secret-0002"),
}


@pytest.mark.parametrize(
    ("model", "upstream_path"),
    [("gpt-4o-mini/openai", "/v1/chat/completions"), ("claude-sonnet-4/anthropic", "/anthropic/v1/messages")],
)
def test_caller_credential_headers_never_reach_the_upstream(gateway, upstream, model, upstream_path):
    before = len(upstream.seen)
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        timeout=30,
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={
            "Helicone-Auth": f"Bearer {gateway.key}",
            "Authorization": f"Bearer {gateway.key}",
            "x-api-key": ATTACKER,
            "api-key": ATTACKER,
            "x-goog-api-key": ATTACKER,
            "OpenAI-Organization": "org-attacker",
            "X-Forwarded-Host": "internal.example",
        },
    )
    assert r.status_code == 200, r.text
    seen = [s for s in upstream.seen[before:] if s.path.endswith(upstream_path)]
    assert len(seen) == 1
    headers = seen[0].headers
    name, value = OPERATOR[upstream_path]
    assert headers[name] == value  # the operator's key, not the caller's
    assert ATTACKER not in str(headers) and gateway.key not in str(headers)
    assert "openai-organization" not in headers and "x-forwarded-host" not in headers
    assert headers["host"].startswith("127.0.0.1")


def test_upstream_response_headers_are_not_passed_back(gateway):
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.key}"},
        timeout=30,
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200
    # the mock answers with set-cookie, openai-organization and x-upstream-only (tests/support/mock_upstream.py)
    assert not {"set-cookie", "openai-organization", "x-upstream-only"} & set(r.headers)
