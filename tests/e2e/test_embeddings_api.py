"""The `openai` SDK's embeddings (`client.embeddings.create`) against a real gateway, replaying the recorded
OpenAI embedding (`openai/embeddings_base64.json`: text-embedding-3-small, 128 dimensions, base64)."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest

from support.wire import exchange

RECORDED = exchange("openai/embeddings_base64.json")["response"]["body"]
RECORDED_B64 = RECORDED["data"][0]["embedding"]


def decode(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))  # little-endian float32, as OpenAI sends


VECTOR = decode(RECORDED_B64)
PRICE_PER_TOKEN = 0.02 / 1e6  # text-embedding-3-small on OpenAI (registry/models.yaml)


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)


def test_recording_is_what_the_tests_assume():
    assert len(VECTOR) == 128
    assert RECORDED["usage"] == {"prompt_tokens": 4, "total_tokens": 4}


def test_float_encoding(client, gateway, upstream):
    raw = client.embeddings.with_raw_response.create(
        model="text-embedding-3-small",
        input=["Hello, world!"],
        encoding_format="float",
        dimensions=128,
        extra_headers={"Helicone-Property-Surface": "embeddings"},
    )
    result = raw.parse()
    assert result.object == "list"
    assert result.model == "text-embedding-3-small"
    assert len(result.data) == 1
    assert result.data[0].object == "embedding" and result.data[0].index == 0
    assert result.data[0].embedding == VECTOR  # exact: float32 values survive the JSON round trip
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (4, 4)
    assert raw.headers["helicone-provider"] == "openai"

    sent = upstream.last("/embeddings")
    assert sent.path == "/v1/embeddings"
    assert sent.body == {
        "model": "text-embedding-3-small",
        "input": ["Hello, world!"],
        "encoding_format": "float",
        "dimensions": 128,
    }
    assert sent.headers["authorization"] == "Bearer sk-upstream-openai-secret-0001"

    row = gateway.wait_row(raw.headers["helicone-id"])
    assert row["response_status"] == 200
    assert row["request_path"] == "/v1/embeddings"
    assert row["request_model"] == "text-embedding-3-small"
    assert row["provider"] == "openai"
    assert row["stream"] is False
    assert row["prompt_tokens"] == 4
    assert row["total_tokens"] == 4
    assert row["costUSD"] > 0
    assert row["costUSD"] == pytest.approx(4 * PRICE_PER_TOKEN)
    assert row["request_properties"]["surface"] == "embeddings"
    assert row["request_body"]["input"] == ["Hello, world!"]


def test_base64_encoding(client, upstream):
    result = client.embeddings.create(
        model="text-embedding-3-small", input=["Hello, world!"], encoding_format="base64", dimensions=128
    )
    assert isinstance(result.data[0].embedding, str)
    assert result.data[0].embedding == RECORDED_B64
    assert decode(result.data[0].embedding) == VECTOR
    assert upstream.last("/embeddings").body["encoding_format"] == "base64"


def test_sdk_default_encoding(client, upstream):
    """Without encoding_format the SDK asks for base64 and decodes it itself."""
    result = client.embeddings.create(model="text-embedding-3-small", input="Hello, world!", dimensions=128)
    assert upstream.last("/embeddings").body["encoding_format"] == "base64"
    assert list(result.data[0].embedding) == pytest.approx(VECTOR, rel=0, abs=0)


def test_several_inputs(client, gateway):
    raw = client.embeddings.with_raw_response.create(
        model="text-embedding-3-small",
        input=["Hello, world!", "Goodbye"],
        encoding_format="float",
        dimensions=128,
    )
    result = raw.parse()
    assert [d.index for d in result.data] == [0, 1]
    assert all(d.embedding == VECTOR for d in result.data)
    assert gateway.wait_row(raw.headers["helicone-id"])["prompt_tokens"] == 4


def test_token_array_input(client, upstream):
    client.embeddings.create(
        model="text-embedding-3-small", input=[[9906, 11, 1917, 0]], encoding_format="float"
    )
    assert upstream.last("/embeddings").body["input"] == [[9906, 11, 1917, 0]]


def test_embeddings_on_a_chat_only_provider_is_a_clear_4xx(client, gateway, upstream):
    before = len(upstream.seen)
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="claude-sonnet-4/anthropic", input="hi", encoding_format="float")
    assert e.value.status_code == 400
    assert e.value.body["type"] == "invalid_request_error"
    assert "embedding" in e.value.body["message"].lower()
    assert "anthropic" in e.value.body["message"]
    assert len(upstream.seen) == before
    row = gateway.wait_row(e.value.response.headers["helicone-id"])
    assert row["response_status"] == 400


def test_embeddings_on_a_chat_only_model_is_a_clear_4xx(client, upstream):
    before = len(upstream.seen)
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="gpt-4o-mini", input="hi", encoding_format="float")
    assert "embedding" in e.value.body["message"].lower()
    assert len(upstream.seen) == before


def test_missing_input_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="text-embedding-3-small", input=[], encoding_format="float")
    assert e.value.body["param"] == "input"


def test_bad_key_is_a_401(gateway):
    r = httpx.post(
        f"{gateway.url}/v1/embeddings",
        headers={"Authorization": "Bearer sk-nope"},
        timeout=10,
        json={"model": "text-embedding-3-small", "input": "hi"},
    )
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"
