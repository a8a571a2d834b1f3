"""Caller-derived values in upstream URLs (Azure deployments, Bedrock model ids, Gemini and Vertex models) are
one percent-encoded path segment: no traversal, no query or fragment of their own, and nothing the client
would refuse to send."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from switchyard.providers.azure import AzureProvider
from switchyard.providers.base import Target, UpstreamError
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.egress_proxy import ProxySettings
from switchyard.providers.gemini import GeminiProvider
from switchyard.providers.request_head import route_for
from switchyard.providers.vertex.urls import method_url

HOSTILE = [
    "../../../internal/anything?injected=1#",
    "a b",
    "\u20ac",
    "x/../../y",
    "%2e%2e",
    "q?api-version=1",
    "#frag",
]
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def azure(model: str, **config) -> Target:
    return Target("azure", model, "azure", "https://res.openai.azure.com", "k", "api-key", config)


def bedrock(model: str) -> Target:
    return Target(
        "bedrock",
        model,
        "bedrock",
        "https://bedrock-runtime.{region}.amazonaws.com",
        None,
        "none",
        {"region": "us-east-1"},
    )


def segments_after(url: str, prefix: str) -> list[str]:
    route_for(url, ProxySettings())  # the client would send it
    parts = urlsplit(url)
    assert not parts.fragment
    assert parts.path.startswith(prefix)
    return parts.path[len(prefix) :].split("/")


@pytest.mark.parametrize("model", HOSTILE)
def test_azure_deployment_is_one_segment(model):
    url = AzureProvider().passthrough_request(dict(CHAT), azure(model), "chat/completions").url
    segs = segments_after(url, "/openai/deployments/")
    assert len(segs) == 3 and segs[1:] == ["chat", "completions"]
    assert urlsplit(url).query == "api-version=2025-01-01-preview"


def test_azure_api_version_from_key_config_is_one_query_value():
    url = AzureProvider().passthrough_request(dict(CHAT), azure("d", api_version="1&x=2#y"), "embeddings").url
    assert urlsplit(url).query == "api-version=1%26x%3D2%23y"


@pytest.mark.parametrize("model", HOSTILE)
def test_bedrock_model_id_is_one_segment(model):
    p = BedrockProvider(clock=lambda: 0)
    for req in (
        p.build_request(dict(CHAT), bedrock(model)),
        p.build_embeddings({"model": "m", "input": "hi"}, bedrock(model)),
    ):
        segs = segments_after(req.url, "/model/")
        assert len(segs) == 2 and segs[1] in ("converse", "invoke")


@pytest.mark.parametrize("model", HOSTILE)
def test_gemini_and_vertex_models_are_one_segment(model):
    url = (
        GeminiProvider()
        .build_request(
            dict(CHAT), Target("g", model, "gemini", "https://g.example/v1beta", "k", "goog-api-key")
        )
        .url
    )
    assert len(segments_after(url, "/v1beta/models/")) == 1
    url = method_url(
        Target("vertex", model, "vertex", "", None, "none", {"project": "p", "region": "r"}), "gemini", False
    )
    assert len(segments_after(url, "/v1/projects/p/locations/r/publishers/google/models/")) == 1


@pytest.mark.parametrize("model", [".", ".."])
def test_dot_segments_are_refused(model):
    with pytest.raises(UpstreamError) as err:
        AzureProvider().passthrough_request(dict(CHAT), azure(model), "chat/completions")
    assert (err.value.status, err.value.code) == (400, "invalid_model")
    with pytest.raises(UpstreamError):
        BedrockProvider(clock=lambda: 0).build_request(dict(CHAT), bedrock(model))
