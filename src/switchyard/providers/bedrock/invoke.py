"""Claude on Bedrock for Anthropic Messages callers with `NO_MAPPING`: InvokeModel with the caller's body.

Request: the Anthropic body without `model`/`stream`, plus `anthropic_version: bedrock-2023-05-31` (and the
caller's `anthropic-beta` header as `anthropic_beta`), to `/model/{id}/invoke` or
`/invoke-with-response-stream`. Non-stream answers are Anthropic messages as they are. Streams arrive as
Bedrock event-stream `chunk` frames whose `bytes` hold one Anthropic event each: `InvokeStreamReframer` turns
them back into the Anthropic SSE the caller expects; exception frames raise like ConverseStream's.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from ..base import Target, UpstreamError, UpstreamRequest, path_segment
from .request import base_url, family, model_id
from .stream import BedrockStreamParser, event_stream_buffer, is_parser_error

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"


def serves_natively(target: Target, kind: str) -> bool:
    return kind == "messages" and family(target) == "anthropic"


def native_request(body: Mapping[str, Any], target: Target, headers: Mapping[str, str]) -> UpstreamRequest:
    stream = body.get("stream") is True
    out = {k: v for k, v in body.items() if k not in ("model", "stream")}
    out["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
    beta = headers.get("anthropic-beta")
    if beta:
        out["anthropic_beta"] = [b.strip() for b in beta.split(",") if b.strip()]
    action = "invoke-with-response-stream" if stream else "invoke"
    url = f"{base_url(target)}/model/{path_segment(model_id(target), 'Bedrock model id')}/{action}"
    req_headers = {
        "content-type": "application/json",
        "accept": "application/vnd.amazon.eventstream" if stream else "application/json",
        **target.headers,
    }
    return UpstreamRequest("POST", url, req_headers, orjson.dumps(out), stream)


def count_request(body: Mapping[str, Any], target: Target, headers: Mapping[str, str]) -> UpstreamRequest:
    """Bedrock's CountTokens API: `POST /model/{id}/count-tokens` with `{"input": {"invokeModel": {"body":
    <base64 of the InvokeModel body>}}}`; answers `{"inputTokens": N}`. InvokeModel bodies need `max_tokens`,
    which a count request does not carry: 1 is sent (it does not change the input count)."""
    invoke = {k: v for k, v in body.items() if k != "stream"}
    invoke["max_tokens"] = invoke.get("max_tokens") or 1
    req = native_request(invoke, target, headers)
    url = req.url.rsplit("/", 1)[0] + "/count-tokens"
    payload = {"input": {"invokeModel": {"body": base64.b64encode(req.body).decode()}}}
    return replace(req, url=url, body=orjson.dumps(payload), stream=False)


class InvokeStreamReframer:
    """Bedrock event-stream bytes → Anthropic SSE bytes (any split of the input gives the same output)."""

    def __init__(self) -> None:
        self._buffer = event_stream_buffer()
        self._errors = BedrockStreamParser(created=0)  # reused for exception / error frames

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        self._buffer.add_data(data)
        out: list[bytes] = []
        try:
            for message in self._buffer:
                if message.headers.get(":event-type") != "chunk":
                    self._errors._message(message, [])  # raises on exception / error frames
                    continue
                raw = base64.b64decode(orjson.loads(message.payload)["bytes"])
                event = orjson.loads(raw)
                out.append(
                    b"event: " + str(event.get("type", "message")).encode() + b"\ndata: " + raw + b"\n\n"
                )
        except (KeyError, ValueError, TypeError):
            raise UpstreamError(
                502, "server", "Bedrock sent a stream chunk that is not an Anthropic event"
            ) from None
        except Exception as exc:
            if not is_parser_error(exc):
                raise
            raise UpstreamError(502, "server", f"corrupt Bedrock event stream ({exc})") from None
        return b"".join(out)

    def close(self) -> None:
        return None
