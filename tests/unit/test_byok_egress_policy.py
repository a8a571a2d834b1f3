"""The BYOK egress policy as pure logic: patterns, IP literal forms, and the Vertex credential rules applied at
call time (a stored org key that is a file path, or whose token_uri is not Google's, is never used)."""

from __future__ import annotations

import asyncio
import json

import pytest

from switchyard.pipeline.byok_egress import ByokPolicy, Pattern
from switchyard.providers.base import Target, UpstreamError
from switchyard.providers.vertex import auth

POLICY = ByokPolicy({"openai": ["http://127.0.0.1:8000"], "*": ["egress.example.com:8443"]}, None)


@pytest.mark.parametrize(
    ("provider", "fmt", "url", "allowed"),
    [
        ("azure", "azure", "https://res-1.openai.azure.com/openai/deployments/d/chat", True),
        ("azure", "azure", "https://a.b.openai.azure.com/", False),  # `*` is one label
        ("azure", "azure", "https://res.openai.azure.com.evil.example/", False),
        ("azure", "azure", "http://res.openai.azure.com/", False),  # https unless the pattern says http
        ("azure", "azure", "https://res.openai.azure.com:8443/", False),
        ("azure", "azure", "https://169.254.169.254/", False),
        ("azure", "azure", "https://[::1]/", False),
        ("azure", "azure", "https://0xa9.0xfe.0xa9.0xfe/", False),
        ("bedrock", "bedrock", "https://bedrock-runtime.eu-west-3.amazonaws.com/model/x/converse", True),
        ("bedrock", "bedrock", "https://bedrock-runtime.evil.example/.amazonaws.com/x", False),
        ("vertex", "vertex", "https://europe-west4-aiplatform.googleapis.com/v1/x", True),
        ("openai", "openai", "http://127.0.0.1:8000/v1/chat/completions", True),
        ("openai", "openai", "http://127.0.0.1:8001/v1", False),
        ("openai", "openai", "https://api.openai.com/v1/chat/completions", True),  # the operator's host
        ("anthropic", "anthropic", "https://egress.example.com:8443/v1", True),  # "*" applies to all
        ("anthropic", "anthropic", "https://egress.example.com/v1", False),
        ("anthropic", "anthropic", "https://user@api.anthropic.com/v1", False),
    ],
)
def test_final_url_policy(provider: str, fmt: str, url: str, allowed: bool) -> None:
    operator = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com/v1"}.get(
        provider
    )
    egress = POLICY.egress(provider, fmt, operator)
    assert (egress.refusal(url) is None) is allowed, egress.refusal(url)


@pytest.mark.parametrize("bad", ["ftp://x", "http://*.*.*.*", "http://10.*.0.1", "host:port", ""])
def test_bad_patterns_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Pattern.parse(bad)


def _vertex(key: str) -> Target:
    return Target(
        provider="vertex",
        model="gemini-2.5-flash",
        format="vertex",
        base_url="",
        api_key=key,
        auth="google-oauth",
        egress=POLICY.egress("vertex", "vertex", None),
    )


def test_vertex_org_key_that_is_a_path_is_not_read() -> None:
    with pytest.raises(UpstreamError, match="not a file path"):
        auth.source(_vertex("/etc/switchyard/operator-sa.json"))
    # the operator's own key (no egress) may still be a path
    assert (
        auth.source(
            Target(
                provider="vertex",
                model="m",
                format="vertex",
                base_url="",
                api_key="/etc/sa.json",
                auth="google-oauth",
            )
        ).kind
        == "file"
    )


def test_vertex_org_key_with_a_foreign_token_uri_is_never_refreshed() -> None:
    info = {
        "type": "service_account",
        "token_uri": "http://169.254.169.254/token",
        "private_key": "x",
        "client_email": "a@b",
        "project_id": "p",
    }
    called: list[object] = []
    tokens = auth.TokenSource(transport_factory=lambda: called.append(1))
    with pytest.raises(UpstreamError, match="token_uri"):
        asyncio.run(tokens.get(_vertex(json.dumps(info))))
    assert called == []  # no transport made, nothing sent
