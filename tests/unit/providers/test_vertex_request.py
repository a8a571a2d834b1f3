"""Vertex AI requests: URLs (regions, global, streaming), the Claude body, Gemini translation reuse,
native Anthropic passthrough."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.base import Target, UpstreamError
from switchyard.providers.gemini import GeminiProvider
from switchyard.providers.vertex import VertexProvider
from switchyard.providers.vertex.urls import family, region

TEMPLATE = "https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}"
provider = VertexProvider(clock=lambda: 0)

CHAT: dict[str, Any] = {
    "model": "ignored",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the capital of France?"},
    ],
    "max_tokens": 100,
    "temperature": 0.2,
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a city up",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
}


def target(model: str = "gemini-2.5-flash", *, api_key: str | None = None, **config: Any) -> Target:
    cfg = {"project": "my-proj", "default_region": "us-central1", "anthropic_version": "vertex-2023-10-16"}
    cfg.update(config)
    return Target("vertex", model, "vertex", TEMPLATE, api_key, "google-oauth", cfg)


def body_of(req) -> dict[str, Any]:
    return orjson.loads(req.body)


# --- family --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "config", "expected"),
    [
        ("gemini-2.5-pro", {}, "gemini"),
        ("models/gemini-2.0-flash", {}, "gemini"),
        ("publishers/google/models/gemini-2.5-flash", {}, "gemini"),
        ("claude-sonnet-4@20250514", {}, "claude"),
        ("claude-3-5-haiku@20241022", {}, "claude"),
        ("my-tuned-model", {"family": "gemini"}, "gemini"),
        ("my-claude-alias", {"family": "anthropic"}, "claude"),
        ("llama-3.1-405b", {}, None),
    ],
)
def test_family(model, config, expected):
    assert family(target(model, **config)) == expected


def test_unknown_family_is_unsupported_so_the_next_attempt_runs():
    with pytest.raises(UpstreamError) as e:
        provider.build_request(CHAT, target("llama-3.1-405b"))
    assert e.value.kind == "unsupported" and e.value.status == 400


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "stream", "config", "url"),
    [
        (
            "gemini-2.5-flash",
            False,
            {},
            "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1"
            "/publishers/google/models/gemini-2.5-flash:generateContent",
        ),
        (
            "gemini-2.5-flash",
            True,
            {"region": "europe-west4"},
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-proj/locations/europe-west4"
            "/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        ),
        (
            "gemini-2.5-pro",
            False,
            {"region": "global"},
            "https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global"
            "/publishers/google/models/gemini-2.5-pro:generateContent",
        ),
        (
            "claude-sonnet-4@20250514",
            False,
            {"region": "us-east5"},
            "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5"
            "/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict",
        ),
        (
            "claude-sonnet-4@20250514",
            True,
            {"region": "global"},
            "https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global"
            "/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict",
        ),
        (
            "claude-haiku-4-5@20251001",
            True,
            {},
            "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1"
            "/publishers/anthropic/models/claude-haiku-4-5@20251001:streamRawPredict",
        ),
    ],
)
def test_urls(model, stream, config, url):
    req = provider.build_request({**CHAT, "stream": stream}, target(model, **config))
    assert req.url == url
    assert req.method == "POST" and req.stream is stream


def test_region_resolution():
    assert region(target()) == "us-central1"
    assert region(target(default_region=None)) == "us-central1"
    assert region(target(region="asia-northeast1")) == "asia-northeast1"
    assert region(target(cross_region=True)) == "global"
    assert region(target(cross_region="true", region="us-east5")) == "us-east5"  # explicit region wins


def test_endpoint_override_and_project_from_inline_service_account():
    sa = orjson.dumps({"type": "service_account", "project_id": "sa-proj"}).decode()
    t = target(
        project=None, api_key=sa, endpoint="http://127.0.0.1:9999/v1/projects/{project}/locations/{region}"
    )
    req = provider.build_request(CHAT, t)
    assert req.url == (
        "http://127.0.0.1:9999/v1/projects/sa-proj/locations/us-central1"
        "/publishers/google/models/gemini-2.5-flash:generateContent"
    )


def test_unknown_project_leaves_a_placeholder_for_sign():
    req = provider.build_request(CHAT, target(project=None, api_key="/etc/sa.json"))
    assert "/projects/{project}/" in req.url


# --- Gemini body -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_body_is_the_gemini_translation(stream):
    body = {**CHAT, "stream": stream, "reasoning_effort": "low", "response_format": {"type": "json_object"}}
    t = target()
    ours = provider.build_request(body, t)
    studio = GeminiProvider(clock=lambda: 0).build_request(
        body, Target("gemini", "gemini-2.5-flash", "gemini", "https://x/v1beta", None, "none")
    )
    assert body_of(ours) == body_of(studio)
    assert ours.headers == studio.headers  # content-type (+ accept for streams); auth comes from sign


def test_gemini_request_never_carries_the_credentials():
    secret = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----SECRET"}'
    req = provider.build_request(CHAT, target(api_key=secret))
    assert "SECRET" not in str(req.headers) and b"SECRET" not in req.body and "SECRET" not in req.url
    assert "x-goog-api-key" not in req.headers and "authorization" not in req.headers


def test_static_headers_are_added():
    t = target()
    t.headers = {"x-goog-user-project": "billing-proj"}
    assert provider.build_request(CHAT, t).headers["x-goog-user-project"] == "billing-proj"


# --- Claude body -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_claude_body_is_the_anthropic_translation_without_model_plus_version(stream):
    body = {**CHAT, "stream": stream}
    t = target("claude-sonnet-4@20250514", region="us-east5")
    ours = body_of(provider.build_request(body, t))
    native = body_of(
        AnthropicProvider().build_request(
            body, Target("anthropic", "claude-sonnet-4@20250514", "anthropic", "https://api.anthropic.com/v1")
        )
    )
    assert "model" not in ours
    assert ours.pop("anthropic_version") == "vertex-2023-10-16"
    native.pop("model")
    assert ours == native
    assert ours.get("stream") is (True if stream else None)


def test_claude_headers_have_no_anthropic_api_key_or_version_header():
    t = target("claude-sonnet-4@20250514", api_key='{"type": "service_account"}')
    headers = provider.build_request(CHAT, t).headers
    assert headers == {"content-type": "application/json"}


def test_claude_json_schema_defaults_to_the_tool_strategy_but_config_can_choose_native():
    body = {
        **CHAT,
        "tools": None,
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "city",
                "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
    }
    default = body_of(provider.build_request(body, target("claude-sonnet-4-6")))
    assert "output_config" not in default
    assert [tool["name"] for tool in default["tools"]] == ["switchyard_json_response"]
    native = body_of(provider.build_request(body, target("claude-sonnet-4-6", json_schema_mode="native")))
    assert "format" in native["output_config"] and "tools" not in native


def test_claude_translation_errors_pass_through():
    with pytest.raises(UpstreamError) as e:
        provider.build_request({**CHAT, "n": 2}, target("claude-sonnet-4@20250514"))
    assert e.value.kind == "bad_request"


# --- native Anthropic Messages passthrough ---------------------------------------------------------

MESSAGES = {
    "model": "claude-sonnet-4",
    "max_tokens": 256,
    "system": "Be brief.",
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]}
    ],
    "metadata": {"user_id": "u1"},
}


@pytest.mark.parametrize("stream", [False, True])
def test_native_request_for_claude(stream):
    body = {**MESSAGES, "stream": stream} if stream else dict(MESSAGES)
    req = provider.native_request(
        body,
        target("claude-opus-4-1@20250805", region="us-east5"),
        "messages",
        {"anthropic-beta": "context-1m-2025-08-07", "x-other": "no"},
    )
    out = body_of(req)
    expected = {k: v for k, v in body.items() if k != "model"}
    assert out == {**expected, "anthropic_version": "vertex-2023-10-16"}
    assert req.headers == {"content-type": "application/json", "anthropic-beta": "context-1m-2025-08-07"}
    method = "streamRawPredict" if stream else "rawPredict"
    assert req.url.endswith(
        f"/locations/us-east5/publishers/anthropic/models/claude-opus-4-1@20250805:{method}"
    )
    assert req.stream is stream
    assert "model" in body  # the caller's body is not mutated


def test_native_request_refuses_gemini_models():
    with pytest.raises(UpstreamError) as e:
        provider.native_request(MESSAGES, target("gemini-2.5-pro"), "messages", {})
    assert e.value.status == 400 and e.value.kind == "unsupported"


def test_serves_natively_only_for_claude():
    assert provider.native_kinds == frozenset({"messages"})
    assert provider.serves_natively(target("claude-sonnet-4@20250514"), "messages")
    assert not provider.serves_natively(target("gemini-2.5-pro"), "messages")
    assert not provider.serves_natively(target("claude-sonnet-4@20250514"), "chat")
