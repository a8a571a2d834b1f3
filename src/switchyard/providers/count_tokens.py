"""Anthropic's token counting (`POST /v1/messages/count_tokens`) on the three places Claude is served. Pure.

The caller's body is Anthropic's count_tokens body (a Messages body without `max_tokens`); each provider's own
native Messages request is built first (credentials, headers, `anthropic-beta`, region and project exactly as
for a message), then pointed at the counting method:

- Anthropic: `POST {base}/messages/count_tokens`, the body as sent with `model` rewritten; answers
  `{"input_tokens": N}`.
- Bedrock: `POST /model/{id}/count-tokens` with `{"input": {"invokeModel": {"body": <base64 of the InvokeModel
  body>}}}` (CountTokens API); answers `{"inputTokens": N}`. InvokeModel bodies need `max_tokens`, which a
  count request does not carry: 1 is sent (it does not change the input count).
- Vertex AI: `POST .../publishers/anthropic/models/count-tokens:rawPredict` with the model id in the body;
  answers `{"input_tokens": N}`.

Anything else (OpenAI, Gemini, ...) has no counting method here: `counts(target)` is False and the caller gets a
400 that says so — never an estimate passed off as a count.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import orjson

from .base import Target, UpstreamError, UpstreamRequest
from .bedrock.request import family as bedrock_family
from .vertex.urls import base_url as vertex_base
from .vertex.urls import family as vertex_family
from .vertex.urls import model_id as vertex_model


def counts(target: Target) -> bool:
    """Whether this target can count tokens (it serves a Claude model over an Anthropic-format API)."""
    if target.format == "anthropic":
        return True
    if target.format == "bedrock":
        return bedrock_family(target) == "anthropic"
    if target.format == "vertex":
        return vertex_family(target) == "claude"
    return False


def count_request(provider: Any, target: Target, body: dict[str, Any], headers: Any) -> UpstreamRequest:
    """The upstream count request for a target where `counts(target)` holds."""
    clean = {k: v for k, v in body.items() if k != "stream"}
    if target.format == "bedrock":
        invoke = {**clean, "max_tokens": clean.get("max_tokens") or 1}
        req = provider.native_request(invoke, target, "messages", headers)
        url = req.url.rsplit("/", 1)[0] + "/count-tokens"
        payload = {"input": {"invokeModel": {"body": base64.b64encode(req.body).decode()}}}
        return replace(req, url=url, body=orjson.dumps(payload), stream=False)
    req = provider.native_request(clean, target, "messages", headers)
    if target.format == "vertex":
        inner = orjson.loads(req.body)
        inner.pop("anthropic_version", None)
        inner["model"] = vertex_model(target)
        url = f"{vertex_base(target)}/publishers/anthropic/models/count-tokens:rawPredict"
        return replace(req, url=url, body=orjson.dumps(inner), stream=False)
    return replace(req, url=req.url + "/count_tokens", stream=False)


def input_tokens(target: Target, data: bytes) -> int:
    """The count from the upstream's answer; a 502 when there is none (never a made-up 0)."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = None
    key = "inputTokens" if target.format == "bedrock" else "input_tokens"
    value = parsed.get(key) if isinstance(parsed, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UpstreamError(
            502, "server", f"{target.provider} answered the token count without a valid {key!r}"
        )
    return value
