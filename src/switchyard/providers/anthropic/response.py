"""Anthropic Messages response / error → OpenAI `chat.completion` dict / `UpstreamError`. Pure."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from ..base import ErrorKind, UpstreamError, kind_for_status, parse_retry_after
from .request import JSON_TOOL

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Anthropic error `type` → (status used when none is known, kind).
ERROR_TYPES: dict[str, tuple[int, ErrorKind]] = {
    "invalid_request_error": (400, "bad_request"),
    "authentication_error": (401, "auth"),
    "permission_error": (403, "auth"),
    "not_found_error": (404, "not_found"),
    "request_too_large": (413, "bad_request"),
    "rate_limit_error": (429, "rate_limited"),
    "api_error": (500, "server"),
    "timeout_error": (504, "timeout"),
    "overloaded_error": (529, "overloaded"),
}
_CONTEXT_MARKERS = ("prompt is too long", "exceed context limit", "context window", "too many tokens")


def finish_reason(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return FINISH_REASONS.get(stop_reason, "stop")


def usage(u: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic usage → OpenAI usage: prompt_tokens includes cache reads and writes (OpenAI semantics)."""
    cache_read = u.get("cache_read_input_tokens") or 0
    cache_write = u.get("cache_creation_input_tokens") or 0
    prompt = (u.get("input_tokens") or 0) + cache_read + cache_write
    completion = u.get("output_tokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read, "cache_write_tokens": cache_write},
    }


def parse_response(body: bytes) -> dict[str, Any]:
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamError(502, "server", "Anthropic returned a body that is not JSON", body=body) from None
    if not isinstance(msg, dict):
        raise UpstreamError(502, "server", "Anthropic returned an unexpected JSON body", body=body)
    if msg.get("type") == "error":
        status = ERROR_TYPES.get((msg.get("error") or {}).get("type", ""), (500, "server"))[0]
        raise parse_error(status, {}, body)
    texts: list[str] = []
    thinking: list[str] = []
    thinking_blocks: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    json_tool_used = False
    for block in msg.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
            thinking_blocks.append(
                {
                    "type": "thinking",
                    "thinking": block.get("thinking", ""),
                    "signature": block.get("signature", ""),
                }
            )
        elif kind == "redacted_thinking":
            thinking_blocks.append({"type": "redacted_thinking", "data": block.get("data", "")})
        elif kind == "tool_use" and block.get("name") == JSON_TOOL:
            texts.append(orjson.dumps(block.get("input") or {}).decode())
            json_tool_used = True
        elif kind == "tool_use":
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thinking_blocks:
        message["reasoning_content"] = "".join(thinking)
        message["thinking_blocks"] = thinking_blocks
    reason = finish_reason(msg.get("stop_reason"))
    if reason == "tool_calls" and json_tool_used and not tool_calls:
        reason = "stop"
    return {
        "id": msg.get("id") or "",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": msg.get("model") or "",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reason or "stop"}],
        "usage": usage(msg.get("usage") or {}),
    }


def error_kind(status: int, error_type: str | None, message: str) -> ErrorKind:
    kind = kind_for_status(status)
    if error_type in ERROR_TYPES and kind in ("bad_request", "server"):
        kind = ERROR_TYPES[error_type][1]  # the body is more precise than a generic 4xx/5xx
    if error_type == "overloaded_error":
        kind = "overloaded"
    if kind == "bad_request" and any(m in message.lower() for m in _CONTEXT_MARKERS):
        kind = "context_length"
    return kind


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = parse_retry_after(lowered)
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("message"), str):
        return UpstreamError(
            status,
            kind_for_status(status),
            f"Anthropic returned HTTP {status}",
            retry_after=retry_after,
            body=body,
        )
    error_type = err.get("type") if isinstance(err.get("type"), str) else None
    message = err["message"]
    return UpstreamError(
        status,
        error_kind(status, error_type, message),
        message,
        type=error_type,
        retry_after=retry_after,
        body=body,
    )
