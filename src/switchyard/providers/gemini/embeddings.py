"""OpenAI embeddings ⇄ Gemini `batchEmbedContents`. Pure.

Gemini does not report token counts for embeddings, so `usage` is reported as zero tokens and the log records
no cost rather than an invented one.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from ..base import Target, UpstreamError, UpstreamRequest
from .request import gemini_request


def _texts(body: dict[str, Any]) -> list[str]:
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise UpstreamError(
            400,
            "bad_request",
            "Gemini embeddings take 'input' as a string or a list of strings (token arrays are OpenAI-only)",
            param="input",
        )
    return texts


def build_embeddings(body: dict[str, Any], target: Target) -> UpstreamRequest:
    name = "models/" + target.model.removeprefix("models/")
    dims = body.get("dimensions")
    requests = []
    for text in _texts(body):
        req: dict[str, Any] = {"model": name, "content": {"parts": [{"text": text}]}}
        if isinstance(dims, int):
            req["outputDimensionality"] = dims
        requests.append(req)
    return gemini_request(target, "batchEmbedContents", {"requests": requests})


def parse_embeddings(data: bytes, body: dict[str, Any], model: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
        vectors = [e["values"] for e in parsed["embeddings"]]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise UpstreamError(502, "server", "Gemini answered embeddings with an unexpected body") from None
    as_base64 = body.get("encoding_format") == "base64"
    data_out = [
        {
            "object": "embedding",
            "index": i,
            "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_base64 else v,
        }
        for i, v in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data_out,
        "model": model,
        "usage": {"prompt_tokens": 0, "total_tokens": 0},
    }
