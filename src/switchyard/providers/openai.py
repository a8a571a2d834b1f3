"""OpenAI and every OpenAI-compatible upstream (groq, deepseek, mistral, together, vLLM, Ollama, ...).

Same format as the caller: the body is forwarded with only `model` rewritten (and `stream_options.include_usage`
forced for streams so that usage is always known). Responses pass through as bytes; the stream parser here is
used only where chunks must be re-encoded for another caller format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..formats.sse import SSEDecoder
from .base import Target, UpstreamError, UpstreamRequest, kind_for_status, parse_retry_after

_CONTEXT_CODES = {"context_length_exceeded", "string_above_max_length"}


def auth_headers(target: Target) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if target.api_key:
        if target.auth == "bearer":
            headers["authorization"] = f"Bearer {target.api_key}"
        elif target.auth == "api-key":
            headers["api-key"] = target.api_key
        elif target.auth == "x-api-key":
            headers["x-api-key"] = target.api_key
        elif target.auth in ("goog-api-key", "query-key"):
            headers["x-goog-api-key"] = target.api_key
    if target.headers:
        headers.update(target.headers)
    return headers


class OpenAIProvider:
    """OpenAI wire format. `speaks_openai` tells the executor that OpenAI-format callers can pass straight through."""

    speaks_openai = True
    path = "chat/completions"

    def build_request(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        return self.passthrough_request(body, target, self.path)

    def passthrough_request(self, body: dict[str, Any], target: Target, path: str) -> UpstreamRequest:
        return passthrough_request(body, target, path)

    def parse_response(self, body: bytes) -> dict[str, Any]:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError(502, "server", "upstream returned a body that is not JSON", body=body[:2000]) from None
        if not isinstance(parsed, dict):
            raise UpstreamError(502, "server", "upstream returned JSON that is not an object", body=body[:2000])
        return parsed

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return parse_openai_error(status, headers, body)

    def stream_parser(self) -> OpenAIStreamParser:
        return OpenAIStreamParser()


def passthrough_request(body: dict[str, Any], target: Target, path: str) -> UpstreamRequest:
    """The caller's body with only `model` rewritten, plus `include_usage` on streams. The caller's dict is not mutated."""
    out = dict(body)
    out["model"] = target.model
    stream = out.get("stream") is True
    if stream:
        opts = out.get("stream_options")
        out["stream_options"] = {**opts, "include_usage": True} if isinstance(opts, dict) else {"include_usage": True}
    return UpstreamRequest("POST", f"{target.base_url}/{path}", auth_headers(target), orjson.dumps(out), stream)


def parse_openai_error(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    message, etype, code, param = None, None, None, None
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        err = parsed.get("error", parsed)
        if isinstance(err, dict):
            message = err.get("message")
            etype, code, param = err.get("type"), err.get("code"), err.get("param")
            meta = err.get("metadata")  # OpenRouter puts the real upstream reason here
            if isinstance(meta, dict) and isinstance(meta.get("raw"), str) and meta["raw"]:
                message = f"{message}: {meta['raw'][:500]}" if message else meta["raw"][:500]
        elif isinstance(err, str):
            message = err
        if message is None and isinstance(parsed.get("message"), str):
            message = parsed["message"]
    if not message:
        text = body[:300].decode("utf-8", "replace").strip() if body else ""
        message = f"upstream returned HTTP {status}" + (f": {text}" if text and not text.startswith("<") else "")
    kind = kind_for_status(status)
    if kind == "bad_request" and (code in _CONTEXT_CODES or "context length" in str(message).lower()):
        kind = "context_length"
    if status == 429 and code == "insufficient_quota":
        kind = "auth"  # the provider key has no money left: another provider may still serve
    return UpstreamError(
        status, kind, str(message), type=etype, code=code, param=param,
        retry_after=parse_retry_after(headers), body=body[:4000] if body else None,
    )


class OpenAIStreamParser:
    """OpenAI SSE → chunk dicts; an `error` object inside the stream raises."""

    __slots__ = ("_done", "_sse")

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self._done = False

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        return self._chunks(self._sse.feed(data))

    def close(self) -> list[dict[str, Any]]:
        out = self._chunks(self._sse.close())
        if not self._done:
            raise UpstreamError(502, "server", "upstream stream ended without [DONE]")
        return out

    def _chunks(self, events: list[Any]) -> list[dict[str, Any]]:
        out = []
        for ev in events:
            if ev.data == "[DONE]":
                self._done = True
                continue
            try:
                chunk = orjson.loads(ev.data)
            except orjson.JSONDecodeError:
                raise UpstreamError(502, "server", "upstream sent a stream event that is not JSON") from None
            if isinstance(chunk, dict) and "error" in chunk and "choices" not in chunk:
                err = chunk["error"]
                msg = err.get("message") if isinstance(err, dict) else str(err)
                raise UpstreamError(502, "server", f"upstream stream error: {msg}")
            out.append(chunk)
        return out
