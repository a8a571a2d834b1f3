"""OpenAI embeddings ⇄ Amazon Titan Text Embeddings (v2) through Bedrock `InvokeModel`. Pure.

Titan embeds one text per call, so a request carries exactly one input (a list of one string is accepted);
`dimensions` maps to Titan's 256 / 512 / 1024, and the token count Titan reports becomes `usage`.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from ..base import Target, UpstreamError, UpstreamRequest, path_segment
from .request import base_url, model_id


def build_embeddings(body: dict[str, Any], target: Target) -> UpstreamRequest:
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or len(texts) != 1 or not isinstance(texts[0], str):
        raise UpstreamError(
            400, "bad_request", "Bedrock Titan embeddings take one input string per request", param="input"
        )
    payload: dict[str, Any] = {"inputText": texts[0], "normalize": True}
    dims = body.get("dimensions")
    if dims is not None:
        if dims not in (256, 512, 1024):
            raise UpstreamError(
                400, "bad_request", "Titan embeddings support dimensions 256, 512 or 1024", param="dimensions"
            )
        payload["dimensions"] = dims
    url = f"{base_url(target)}/model/{path_segment(model_id(target), 'Bedrock model id')}/invoke"
    headers = {"content-type": "application/json", "accept": "application/json", **target.headers}
    return UpstreamRequest("POST", url, headers, orjson.dumps(payload))


def parse_embeddings(data: bytes, body: dict[str, Any], model: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
        vector = parsed["embedding"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise UpstreamError(502, "server", "Bedrock answered embeddings with an unexpected body") from None
    tokens = parsed.get("inputTextTokenCount") or 0
    value: Any = vector
    if body.get("encoding_format") == "base64":
        value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": value}],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
