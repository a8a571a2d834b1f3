"""Gemini `generateContent` JSON → OpenAI `chat.completion`; Google RPC errors → `UpstreamError`. Pure.

The helpers here (`split_parts`, `finish_reason`, `usage`, `error_from_payload`) are shared with the
stream parser so both paths translate a candidate the same way.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from switchyard.providers.base import ErrorKind, UpstreamError, kind_for_status, parse_retry_after

_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"} | dict.fromkeys(_FILTERED, "content_filter")
_KINDS: dict[str, ErrorKind] = {
    "RESOURCE_EXHAUSTED": "rate_limited",
    "UNAVAILABLE": "overloaded",
    "PERMISSION_DENIED": "auth",
    "UNAUTHENTICATED": "auth",
    "NOT_FOUND": "not_found",
    "DEADLINE_EXCEEDED": "timeout",
    "INVALID_ARGUMENT": "bad_request",
    "FAILED_PRECONDITION": "bad_request",
    "OUT_OF_RANGE": "bad_request",
    "INTERNAL": "server",
}
_TOO_LONG = re.compile(
    r"input token count|maximum number of tokens|token limit|too many tokens|context (length|window)", re.I
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def parse_response(body: bytes, *, created: int) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(502, "server", f"invalid JSON from Gemini: {exc}", body=body) from exc
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise UpstreamError(502, "server", "unexpected response shape from Gemini", body=body)
    if isinstance(data.get("error"), dict):
        raise error_from_payload(int(data["error"].get("code") or 500), {}, data["error"], body)
    counter = CallIds()
    choices = []
    for position, cand in enumerate(data.get("candidates") or []):
        text, reasoning, calls, images = split_parts((cand.get("content") or {}).get("parts") or [], counter)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text if text or not calls else None,
            "refusal": None,
        }
        if reasoning:
            message["reasoning_content"] = reasoning
        if calls:
            message["tool_calls"] = calls
        if images:
            message["images"] = images
        reason = finish_reason(cand.get("finishReason"), bool(calls)) or ("tool_calls" if calls else "stop")
        choices.append(
            {
                "index": cand.get("index", position),
                "message": message,
                "finish_reason": reason,
                "logprobs": None,
            }
        )
    if not choices:
        blocked = bool((data.get("promptFeedback") or {}).get("blockReason"))
        message = {"role": "assistant", "content": "", "refusal": None}
        choices.append(
            {
                "index": 0,
                "message": message,
                "finish_reason": "content_filter" if blocked else "stop",
                "logprobs": None,
            }
        )
    out: dict[str, Any] = {
        "id": data.get("responseId") or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": created,
        "model": data.get("modelVersion") or "",
        "choices": choices,
    }
    if isinstance(data.get("usageMetadata"), dict):
        out["usage"] = usage(data["usageMetadata"])
    return out


def new_prefix() -> str:
    return secrets.token_hex(8)


class CallIds:
    """Tool call ids for one response. Gemini's own `functionCall.id` when it sends one; otherwise `call_` + a
    random prefix per response + a counter. Gemini numbers nothing, and plain `call_0`, `call_1` in every answer
    collide in a history continued on another provider (Anthropic refuses duplicate `tool_use` ids)."""

    __slots__ = ("_n", "_prefix")

    def __init__(self) -> None:
        self._prefix = new_prefix()
        self._n = 0

    def next(self, given: Any = None) -> str:
        self._n += 1
        if isinstance(given, str) and given:
            return given
        return f"call_{self._prefix}{self._n - 1}"


def split_parts(
    parts: list[dict[str, Any]], counter: CallIds
) -> tuple[str, str, list[dict[str, Any]], list[dict[str, Any]]]:
    """Parts → (answer text, thought text, OpenAI tool_calls, images); `counter` makes the tool call ids."""
    text: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else text).append(part["text"])
        elif isinstance(part.get("functionCall"), dict):
            calls.append(tool_call(part, counter.next(part["functionCall"].get("id"))))
        elif isinstance(part.get("inlineData"), dict):
            blob = part["inlineData"]
            url = f"data:{blob.get('mimeType', 'application/octet-stream')};base64,{blob.get('data', '')}"
            images.append({"type": "image_url", "image_url": {"url": url}})
    return "".join(text), "".join(thoughts), calls, images


def tool_call(part: dict[str, Any], call_id: str) -> dict[str, Any]:
    fn = part["functionCall"]
    call: dict[str, Any] = {
        "id": call_id,
        "type": "function",
        "function": {"name": fn.get("name", ""), "arguments": orjson.dumps(fn.get("args") or {}).decode()},
    }
    if part.get("thoughtSignature"):  # Gemini 3 needs it back on the next turn (request.py reads it)
        call["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return call


def finish_reason(raw: Any, has_calls: bool) -> str | None:
    """OpenAI finish_reason for a Gemini finishReason; None when the candidate has not finished."""
    if not raw:
        return None
    reason = _FINISH.get(raw, "stop")
    return "tool_calls" if has_calls and reason == "stop" else reason


def usage(meta: dict[str, Any]) -> dict[str, Any]:
    prompt = int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0)
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(meta.get("totalTokenCount") or prompt + completion),
        "prompt_tokens_details": {"cached_tokens": int(meta.get("cachedContentTokenCount") or 0)},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    try:
        data: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, list) and data:  # Gemini sometimes wraps the envelope in a list
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        text = body.decode("utf-8", "replace").strip()[:500] or f"HTTP {status} from Gemini"
        err = {"message": text}
    return error_from_payload(status, headers, err, body)


def error_from_payload(
    status: int, headers: Mapping[str, str], err: dict[str, Any], body: bytes | None
) -> UpstreamError:
    rpc = err.get("status") if isinstance(err.get("status"), str) else None
    message = str(err.get("message") or rpc or f"HTTP {status} from Gemini")
    kind = _KINDS.get(rpc or "") or kind_for_status(status)
    if kind == "bad_request" and _TOO_LONG.search(message):
        kind = "context_length"
    if _reason(err.get("details")) == "API_KEY_INVALID":  # a bad key comes back as 400 INVALID_ARGUMENT
        kind = "auth"
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = parse_retry_after(lowered)
    if retry_after is None:
        retry_after = _retry_delay(err.get("details"))
    return UpstreamError(
        status, kind, message, type=rpc, code=err.get("code", status), retry_after=retry_after, body=body
    )


def _reason(details: Any) -> str | None:
    """`google.rpc.ErrorInfo.reason`, e.g. API_KEY_INVALID."""
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            return str(detail.get("reason") or "") or None
    return None


def _retry_delay(details: Any) -> float | None:
    """`google.rpc.RetryInfo.retryDelay` ("46s", "0.5s") in seconds."""
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
