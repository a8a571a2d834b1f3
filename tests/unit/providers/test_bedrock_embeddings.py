"""Bedrock Titan embeddings: request shape, SigV4-signable URL, response mapping (synthetic, per the AWS docs)."""

from __future__ import annotations

import base64
import struct

import orjson
import pytest

from switchyard.providers.base import Target, UpstreamError
from switchyard.providers.bedrock import BedrockProvider

TARGET = Target(
    provider="bedrock",
    model="amazon.titan-embed-text-v2:0",
    format="bedrock",
    base_url="https://bedrock-runtime.{region}.amazonaws.com",
    api_key="AKIDEXAMPLE",
    auth="aws-sigv4",
    config={"region": "eu-west-1", "secret_key": "s"},
)


def test_request_and_url():
    req = BedrockProvider().build_embeddings({"input": "hello", "dimensions": 256}, TARGET)
    assert (
        req.url
        == "https://bedrock-runtime.eu-west-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke"
    )
    assert orjson.loads(req.body) == {"inputText": "hello", "normalize": True, "dimensions": 256}


@pytest.mark.parametrize(
    "body", [{"input": ["a", "b"]}, {"input": [1, 2]}, {"input": "a", "dimensions": 300}]
)
def test_unsupported_inputs_are_clear_400s(body):
    with pytest.raises(UpstreamError) as info:
        BedrockProvider().build_embeddings(body, TARGET)
    assert info.value.status == 400 and info.value.kind == "bad_request"


def test_response_float_and_base64():
    # SYNTHETIC: the InvokeModel answer shape documented for Titan Text Embeddings V2
    data = orjson.dumps({"embedding": [0.5, -0.25, 1.0], "inputTextTokenCount": 3})
    out = BedrockProvider().parse_embeddings(data, {"input": "x"}, "amazon.titan-embed-text-v2:0")
    assert out["data"][0]["embedding"] == [0.5, -0.25, 1.0]
    assert out["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    b64 = BedrockProvider().parse_embeddings(data, {"input": "x", "encoding_format": "base64"}, "m")["data"][
        0
    ]["embedding"]
    assert struct.unpack("<3f", base64.b64decode(b64)) == (0.5, -0.25, 1.0)


async def test_the_request_signs():
    req = BedrockProvider().build_embeddings({"input": "hello"}, TARGET)
    signed = await BedrockProvider().sign(req, TARGET)
    assert signed.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/bedrock/aws4_request" in signed.headers["authorization"]
