"""Azure OpenAI (deployment URLs, api-key, api-version) and Vertex AI (Gemini and Claude, OAuth bearer) end to end."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.wire import exchange


@pytest.fixture(scope="module")
def cloud_gateway(upstream, tmp_path_factory) -> Iterator[GatewayProcess]:
    cfg = default_config(upstream.url, free_port())
    cfg["providers"]["azure"] = {
        "base_url": f"{upstream.url}/azure",
        "api_key": "azure-upstream-secret-0004",
        "config": {"deployment": "prod-gpt4o-mini", "api_version": "2024-10-21"},
    }
    cfg["providers"]["vertex"] = {
        "base_url": f"{upstream.url}/vertex/v1/projects/{{project}}/locations/{{region}}",
        "api_key": "ya29.vertex-access-token-0005",
        "config": {"project": "proj-7", "region": "us-east5"},
    }
    gw = GatewayProcess(tmp_path_factory.mktemp("cloud"), cfg)
    gw.prepare()
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture
def client(cloud_gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{cloud_gateway.url}/v1", api_key=cloud_gateway.key, max_retries=0)


def test_azure_deployment_url_and_api_key(client, cloud_gateway, upstream):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini/azure", messages=[{"role": "user", "content": "hi"}]
    )
    assert (
        raw.parse().choices[0].message.content
        == exchange("openai/chat_completion.json")["response"]["body"]["choices"][0]["message"]["content"]
    )
    sent = upstream.last("/azure/openai/deployments/")
    assert sent.path == "/azure/openai/deployments/prod-gpt4o-mini/chat/completions"
    assert sent.headers["api-key"] == "azure-upstream-secret-0004" and "authorization" not in sent.headers
    row = cloud_gateway.wait_row(raw.headers["helicone-id"])
    assert row["provider"] == "azure" and row["costUSD"] > 0


def test_azure_stream(client):
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="gpt-4o-mini/azure", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        if c.choices
    )
    assert text.startswith("I'm")


def test_claude_on_vertex(client, cloud_gateway, upstream):
    recorded = exchange("anthropic/messages.json")["response"]["body"]
    raw = client.chat.completions.with_raw_response.create(
        model="claude-sonnet-4/vertex",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    )
    assert raw.parse().choices[0].message.content == "".join(
        b["text"] for b in recorded["content"] if b["type"] == "text"
    )
    sent = upstream.last(":rawPredict")
    assert (
        sent.path
        == "/vertex/v1/projects/proj-7/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict"
    )
    assert sent.headers["authorization"] == "Bearer ya29.vertex-access-token-0005"
    assert sent.body["anthropic_version"] == "vertex-2023-10-16" and "model" not in sent.body
    assert cloud_gateway.wait_row(raw.headers["helicone-id"])["provider"] == "vertex"


def test_claude_on_vertex_stream(client, upstream):
    chunks = list(
        client.chat.completions.create(
            model="claude-sonnet-4/vertex", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    assert upstream.last(":streamRawPredict").path.endswith("claude-sonnet-4@20250514:streamRawPredict")


def test_gemini_on_vertex(client, upstream):
    recorded = exchange("gemini/generate_content.json")["response"]["body"]
    completion = client.chat.completions.create(
        model="gemini-2.5-flash/vertex", messages=[{"role": "user", "content": "hello"}]
    )
    parts = recorded["candidates"][0]["content"]["parts"]
    assert completion.choices[0].message.content == "".join(
        p.get("text", "") for p in parts if not p.get("thought")
    )
    sent = upstream.last(":generateContent")
    assert (
        sent.path
        == "/vertex/v1/projects/proj-7/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert sent.headers["authorization"] == "Bearer ya29.vertex-access-token-0005"
