"""Bedrock Converse JSON → OpenAI `chat.completion`; Bedrock errors → `UpstreamError`. Pure.

`finish_reason`, `usage` and `error_for` are shared with the stream parser. A Converse response carries
neither a response id nor the model id: the id is generated, and `model` is whatever the caller of
`parse_response` passes (empty by default; the executor then records the attempt's model).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from ..anthropic.request import JSON_TOOL
from ..base import ErrorKind, UpstreamError, kind_for_status, parse_retry_after

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
# Bedrock error type (x-amzn-ErrorType header, `__type`, or a stream exception's name) → kind.
ERROR_KINDS: dict[str, ErrorKind] = {
    "throttlingexception": "rate_limited",
    "servicequotaexceededexception": "rate_limited",
    "validationexception": "bad_request",
    "accessdeniedexception": "auth",
    "unrecognizedclientexception": "auth",
    "invalidsignatureexception": "auth",
    "signaturedoesnotmatch": "auth",
    "expiredtokenexception": "auth",
    "incompletesignatureexception": "auth",
    "missingauthenticationtokenexception": "auth",
    "modelnotreadyexception": "overloaded",
    "serviceunavailableexception": "overloaded",
    "resourcenotfoundexception": "not_found",
    "modeltimeoutexception": "timeout",
    "internalserverexception": "server",
    "modelerrorexception": "server",
    "modelstreamerrorexception": "server",
}
# Status used when a stream exception event (which has no HTTP status of its own) is raised.
STREAM_STATUS = {
    "throttlingexception": 429,
    "serviceunavailableexception": 503,
    "validationexception": 400,
    "internalserverexception": 500,
    "modelstreamerrorexception": 424,
    "modeltimeoutexception": 408,
}
_TOO_LONG = re.compile(
    r"too long|too many (input )?tokens|context (length|window|limit)|maximum context|"
    r"exceeds? the (model'?s? )?(maximum|max)|input length|prompt length",
    re.I,
)


def finish_reason(stop_reason: Any) -> str | None:
    if not stop_reason:
        return None
    return FINISH_REASONS.get(stop_reason, "stop")


def usage(u: Mapping[str, Any]) -> dict[str, Any]:
    """Converse TokenUsage → OpenAI usage; prompt_tokens includes cache reads and writes (OpenAI semantics)."""
    cache_read = int(u.get("cacheReadInputTokens") or 0)
    cache_write = int(u.get("cacheWriteInputTokens") or 0)
    prompt = int(u.get("inputTokens") or 0) + cache_read + cache_write
    completion = int(u.get("outputTokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read, "cache_write_tokens": cache_write},
    }


def parse_response(body: bytes, *, created: int, model: str = "") -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamError(
            502, "server", "Bedrock returned a body that is not JSON", body=body[:2000]
        ) from None
    if not isinstance(data, dict):
        raise UpstreamError(502, "server", "Bedrock returned an unexpected JSON body", body=body[:2000])
    msg = (data.get("output") or {}).get("message") or {}
    texts: list[str] = []
    thinking: list[str] = []
    thinking_blocks: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for block in msg.get("content") or []:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("reasoningContent"), dict):
            reasoning = block["reasoningContent"]
            if isinstance(reasoning.get("reasoningText"), dict):
                rt = reasoning["reasoningText"]
                thinking.append(rt.get("text") or "")
                thinking_blocks.append(
                    {
                        "type": "thinking",
                        "thinking": rt.get("text") or "",
                        "signature": rt.get("signature") or "",
                    }
                )
            elif reasoning.get("redactedContent"):
                thinking_blocks.append({"type": "redacted_thinking", "data": reasoning["redactedContent"]})
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            arguments = orjson.dumps(use.get("input") if use.get("input") is not None else {}).decode()
            if use.get("name") == JSON_TOOL:
                texts.append(arguments)
            else:
                tool_calls.append(
                    {
                        "id": use.get("toolUseId") or f"call_{len(tool_calls)}",
                        "type": "function",
                        "function": {"name": use.get("name") or "", "arguments": arguments},
                    }
                )
        elif isinstance(block.get("citationsContent"), dict):
            for part in block["citationsContent"].get("content") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
        elif isinstance(block.get("image"), dict):
            image = block["image"]
            data_b64 = (image.get("source") or {}).get("bytes")
            if isinstance(data_b64, str):
                url = f"data:image/{image.get('format') or 'png'};base64,{data_b64}"
                images.append({"type": "image_url", "image_url": {"url": url}})
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not tool_calls else None,
        "refusal": None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thinking_blocks:
        message["reasoning_content"] = "".join(thinking)
        message["thinking_blocks"] = thinking_blocks
    if images:
        message["images"] = images
    reason = finish_reason(data.get("stopReason")) or ("tool_calls" if tool_calls else "stop")
    if reason == "tool_calls" and not tool_calls:
        reason = "stop"  # only the reserved response_format tool was called (or nothing at all)
    out: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reason}],
    }
    if isinstance(data.get("usage"), dict):
        out["usage"] = usage(data["usage"])
    return out


def error_type(raw: Any) -> str | None:
    """`ThrottlingException:http://internal.amazon.com/...` or `com.amazon.coral...#Name` → `ThrottlingException`."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    return raw.split(":", 1)[0].rsplit("#", 1)[-1].strip() or None


def error_for(
    status: int,
    etype: str | None,
    message: str,
    *,
    retry_after: float | None = None,
    body: bytes | None = None,
) -> UpstreamError:
    kind = ERROR_KINDS.get((etype or "").lower()) or kind_for_status(status)
    if kind == "bad_request" and _TOO_LONG.search(message):
        kind = "context_length"
    return UpstreamError(status, kind, message, type=etype, code=etype, retry_after=retry_after, body=body)


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        data: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    data = data if isinstance(data, dict) else {}
    etype = error_type(lowered.get("x-amzn-errortype")) or error_type(data.get("__type") or data.get("code"))
    message = data.get("message") or data.get("Message")
    if not isinstance(message, str) or not message:
        text = body.decode("utf-8", "replace").strip()[:500] if body else ""
        message = text or f"HTTP {status} from Bedrock" + (f" ({etype})" if etype else "")
    return error_for(status, etype, message, retry_after=parse_retry_after(lowered), body=body)
