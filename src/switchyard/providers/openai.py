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
from .base import Provider, Target, UpstreamError, UpstreamRequest, kind_for_status, parse_retry_after

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


# Caller surfaces that OpenAI-format upstreams serve natively, and the path each goes to.
NATIVE_PATHS = {
    "chat": "chat/completions",
    "completions": "completions",
    "responses": "responses",
    "embeddings": "embeddings",
}

# Keys an Anthropic-format caller may leave in a translated body that OpenAI-format upstreams reject.
_FOREIGN_TOP = ("thinking", "top_k")
_FOREIGN_MESSAGE = ("thinking_blocks", "is_error", "cache_control")


class OpenAIProvider(Provider):
    """OpenAI wire format. Callers whose surface it speaks (`native_kinds`) pass straight through; their
    answers are OpenAI shapes already, so the base class's `parse_native` and stream hooks fit as they are."""

    name = "openai"
    native_kinds = frozenset(NATIVE_PATHS)
    path = "chat/completions"

    def build_request(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        """A body translated from another caller format: drop what only that format understands."""
        out = {k: v for k, v in body.items() if k not in _FOREIGN_TOP}
        out["messages"] = [_clean_message(m) for m in body.get("messages") or ()]
        if isinstance(out.get("tools"), list):
            out["tools"] = [
                {k: v for k, v in t.items() if k != "cache_control"} if isinstance(t, dict) else t
                for t in out["tools"]
            ]
        return self.passthrough_request(out, target, self.path)

    def native_request(
        self, body: dict[str, Any], target: Target, kind: str, headers: Mapping[str, str] | None = None
    ) -> UpstreamRequest:
        return self.passthrough_request(body, target, NATIVE_PATHS[kind])

    def passthrough_request(self, body: dict[str, Any], target: Target, path: str) -> UpstreamRequest:
        return passthrough_request(body, target, path)

    def parse_response(self, body: bytes) -> dict[str, Any]:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                502, "server", "upstream returned a body that is not JSON", body=body[:2000]
            ) from None
        if not isinstance(parsed, dict):
            raise UpstreamError(
                502, "server", "upstream returned JSON that is not an object", body=body[:2000]
            )
        return parsed

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return parse_openai_error(status, headers, body)

    def stream_parser(self) -> OpenAIStreamParser:
        return OpenAIStreamParser()


def _clean_message(msg: Any) -> Any:
    if not isinstance(msg, dict):
        return msg
    out = {k: v for k, v in msg.items() if k not in _FOREIGN_MESSAGE}
    content = out.get("content")
    if isinstance(content, list):
        out["content"] = [
            {k: v for k, v in p.items() if k != "cache_control"} if isinstance(p, dict) else p
            for p in content
        ]
    return out


def passthrough_request(body: dict[str, Any], target: Target, path: str) -> UpstreamRequest:
    """The caller's body with only `model` rewritten, plus `include_usage` on streams. The caller's dict is not mutated."""
    out = dict(body)
    out["model"] = target.model
    stream = out.get("stream") is True
    if stream and path != "responses":  # the Responses API always reports usage and has no stream_options
        opts = out.get("stream_options")
        out["stream_options"] = (
            {**opts, "include_usage": True} if isinstance(opts, dict) else {"include_usage": True}
        )
    return UpstreamRequest(
        "POST", f"{target.base_url}/{path}", auth_headers(target), orjson.dumps(out), stream
    )


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
        message = f"upstream returned HTTP {status}" + (
            f": {text}" if text and not text.startswith("<") else ""
        )
    kind = kind_for_status(status)
    if kind == "bad_request" and (code in _CONTEXT_CODES or "context length" in str(message).lower()):
        kind = "context_length"
    if status == 429 and code == "insufficient_quota":
        kind = "auth"  # the provider key has no money left: another provider may still serve
    return UpstreamError(
        status,
        kind,
        str(message),
        type=etype,
        code=code,
        param=param,
        retry_after=parse_retry_after(headers),
        body=body[:4000] if body else None,
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
