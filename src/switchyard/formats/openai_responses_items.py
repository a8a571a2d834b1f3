"""The Responses API's objects for a chat-served caller: the `response` envelope (settings echoed from the caller's
request, output items, usage) and its output items (message, text part, function call, reasoning), shared by the
whole answer (`openai_responses.py`) and the stream encoder (`openai_responses_stream.py`).

Signed thinking blocks (Anthropic) ride in a reasoning item's `encrypted_content` with a `switchyard:` prefix
(`THINKING_PREFIX`, `REDACTED_PREFIX`), so foreign `encrypted_content` is never mistaken for one.
"""

from __future__ import annotations

import time
from typing import Any

from ..ids import new_request_id

THINKING_PREFIX = "switchyard:thinking:"
REDACTED_PREFIX = "switchyard:redacted_thinking:"
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def new_id(prefix: str) -> str:
    return prefix + new_request_id().replace("-", "")


def incomplete_reason(finish_reason: Any) -> str | None:
    return _INCOMPLETE.get(finish_reason)


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def response_usage(u: Any) -> dict[str, Any] | None:
    """Chat usage → Responses usage (`prompt_tokens` → `input_tokens`, details kept)."""
    if not isinstance(u, dict):
        return None
    pd = u.get("prompt_tokens_details") or {}
    cd = u.get("completion_tokens_details") or {}
    inp, out = _int(u.get("prompt_tokens")), _int(u.get("completion_tokens"))
    return {
        "input_tokens": inp,
        "input_tokens_details": {
            "cached_tokens": _int(pd.get("cached_tokens")),
            "cache_write_tokens": _int(pd.get("cache_write_tokens")) or _int(pd.get("cache_creation_tokens")),
        },
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": _int(cd.get("reasoning_tokens"))},
        "total_tokens": _int(u.get("total_tokens")) or inp + out,
    }


def _echo_tool(tool: Any) -> Any:
    if isinstance(tool, dict) and tool.get("type") == "function":
        return {
            "type": "function",
            "name": tool.get("name"),
            "description": tool.get("description"),
            "parameters": tool.get("parameters"),
            "strict": tool.get("strict"),
        }
    return tool


def envelope(
    body: dict[str, Any],
    *,
    rid: str,
    created_at: int,
    model: str,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    incomplete: str | None = None,
    store: bool = False,
) -> dict[str, Any]:
    """The `response` object, echoing the caller's settings as OpenAI does."""
    text = v if isinstance(v := body.get("text"), dict) else {}
    text_out: dict[str, Any] = {"format": text.get("format") or {"type": "text"}}
    if text.get("verbosity") is not None:
        text_out["verbosity"] = text["verbosity"]
    reasoning = v if isinstance(v := body.get("reasoning"), dict) else {}
    tools = v if isinstance(v := body.get("tools"), list) else []
    out: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": None,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": body.get("previous_response_id")
        if isinstance(body.get("previous_response_id"), str)
        else None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": store,  # whether the gateway keeps this response for a later previous_response_id
        "temperature": body["temperature"] if body.get("temperature") is not None else 1.0,
        "text": text_out,
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": [_echo_tool(t) for t in tools],
        "top_p": body["top_p"] if body.get("top_p") is not None else 1.0,
        "truncation": body.get("truncation") or "disabled",
        "metadata": body.get("metadata") or {},
    }
    if usage is not None:  # the spec's `usage` is not nullable: absent until known
        out["usage"] = usage
    for key in ("user", "safety_identifier", "prompt_cache_key", "service_tier"):
        if isinstance(body.get(key), str):
            out[key] = body[key]
    return out


def reasoning_item(text: str, encrypted: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": new_id("rs_"),
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}] if text else [],
    }
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def block_encrypted(block: dict[str, Any]) -> tuple[str, str | None]:
    """A chat thinking block → (summary text, encrypted_content)."""
    if block.get("type") == "redacted_thinking":
        return "", REDACTED_PREFIX + str(block.get("data") or "")
    sig = block.get("signature")
    return str(block.get("thinking") or ""), (THINKING_PREFIX + sig) if sig else None


def message_item(status: str) -> dict[str, Any]:
    return {"id": new_id("msg_"), "type": "message", "status": status, "role": "assistant", "content": []}


def text_part(text: str = "") -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(call_id: str | None, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": new_id("fc_"),
        "type": "function_call",
        "status": status,
        "call_id": call_id or new_id("call_"),
        "name": name,
        "arguments": arguments,
    }
