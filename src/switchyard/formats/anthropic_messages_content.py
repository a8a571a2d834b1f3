"""Anthropic Messages content → OpenAI chat messages: the system prompt, user turns (content blocks as content
parts; `tool_result` blocks as `tool` messages), assistant turns (`tool_use` as `tool_calls`, thinking blocks as
`thinking_blocks`). Anthropic-only details (`cache_control`, `is_error`, native block types) ride along as
extension keys the Anthropic provider reads back.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from ..errors import bad_request


def system_content(system: Any) -> str | list[dict[str, Any]]:
    if isinstance(system, str):
        return system
    if not isinstance(system, list):
        raise bad_request("'system' must be a string or an array of text blocks.", param="system")
    parts = []
    for j, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise bad_request(f"system[{j}] must be a text block.", param=f"system[{j}]")
        parts.append(_text_part(block))
    return _collapse(parts)


def _text_part(block: dict[str, Any]) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "text", "text": block.get("text") or ""}
    if block.get("cache_control"):
        part["cache_control"] = block["cache_control"]
    return part


def _collapse(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A lone plain text part as a string (what most OpenAI-compatible servers handle best)."""
    if not parts:
        return ""
    if len(parts) == 1 and parts[0].get("type") == "text" and len(parts[0]) == 2:
        return parts[0]["text"]
    return parts


def _block(block: Any, where: str) -> dict[str, Any]:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise bad_request(f"{where} must be a content block object with a 'type'.", param=where)
    return block


def _part(block: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic content block → an OpenAI content part (Anthropic-native blocks pass through)."""
    kind = block["type"]
    if kind == "text":
        return _text_part(block)
    if kind == "image":
        source = block.get("source")
        source = source if isinstance(source, dict) else {}
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type') or 'application/octet-stream'};base64,{source.get('data') or ''}"
        elif source.get("type") == "url" and source.get("url"):
            url = source["url"]
        else:
            return dict(block)  # a Files API reference: only Anthropic can resolve it
        part: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
        if block.get("cache_control"):
            part["cache_control"] = block["cache_control"]
        return part
    return dict(block)  # document, search_result, ...: the Anthropic provider passes these through


def user_messages(content: str | list[Any], i: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, raw in enumerate(content):
        block = _block(raw, f"messages[{i}].content[{j}]")
        if block["type"] == "tool_result":
            tools.append(_tool_message(block))
        else:
            parts.append(_part(block))
    if parts or not tools:  # tool results lead the turn (OpenAI wants them right after the assistant turn)
        tools.append({"role": "user", "content": _collapse(parts)})
    return tools


def _tool_message(block: dict[str, Any]) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "role": "tool",
        "tool_call_id": block.get("tool_use_id"),
        "content": _tool_content(block.get("content")),
    }
    if block.get("is_error"):
        msg["is_error"] = True
    if block.get("cache_control"):
        msg["cache_control"] = block["cache_control"]
    return msg


def _tool_content(content: Any) -> str | list[dict[str, Any]]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return orjson.dumps(content).decode()
    blocks = [b for b in content if isinstance(b, dict)]
    if all(b.get("type") == "text" and not b.get("cache_control") for b in blocks):
        return "\n".join(
            b.get("text") or "" for b in blocks
        )  # plain text: one string, as every server accepts
    return [_part(b) for b in blocks if isinstance(b.get("type"), str)]


def assistant_message(content: str | list[Any], i: int) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    thinking: list[dict[str, Any]] = []
    for j, raw in enumerate(content):
        block = _block(raw, f"messages[{i}].content[{j}]")
        kind = block["type"]
        if kind == "tool_use":
            args = block.get("input")
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": _compact_json({} if args is None else args),
                    },
                }
            )
        elif kind == "thinking":
            thinking.append(
                {
                    "type": "thinking",
                    "thinking": block.get("thinking") or "",
                    "signature": block.get("signature") or "",
                }
            )
        elif kind == "redacted_thinking":
            thinking.append({"type": "redacted_thinking", "data": block.get("data") or ""})
        else:
            parts.append(_part(block))
    msg: dict[str, Any] = {"role": "assistant", "content": _collapse(parts) if parts or not calls else None}
    if calls:
        msg["tool_calls"] = calls
    if thinking:
        msg["thinking_blocks"] = thinking
    return msg


def _compact_json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except (
        TypeError
    ):  # integers beyond 64 bits (not from orjson-parsed bodies, but a dict may come from anywhere)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
