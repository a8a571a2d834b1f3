"""OpenAI chat body (dict) → Anthropic Messages request body. Pure: no I/O.

Design notes (json_schema strategy, thinking, config keys) are in the package docstring.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from ...formats.tool_args import parse_arguments, safe_tool_id
from .. import claude_rules as claude
from ..base import Target, UpstreamError, UpstreamRequest
from ..claude_rules import ADAPTIVE_EFFORT, DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET, THINKING_BUDGETS

__all__ = ["ADAPTIVE_EFFORT", "DEFAULT_MAX_TOKENS", "JSON_TOOL", "MIN_THINKING_BUDGET", "THINKING_BUDGETS"]

ANTHROPIC_VERSION = "2023-06-01"
JSON_TOOL = "switchyard_json_response"  # reserved tool name for structured output through a forced tool
# Anthropic-native content blocks a caller may send inside OpenAI messages; passed through unchanged.
_NATIVE_BLOCKS = frozenset(
    ["image", "document", "search_result", "tool_use", "tool_result", "thinking", "redacted_thinking"]
)


def bad_request(message: str, param: str | None = None) -> UpstreamError:
    return UpstreamError(400, "bad_request", message, type="invalid_request_error", param=param)


def build_request(body: dict[str, Any], target: Target) -> UpstreamRequest:
    n = body.get("n")
    if n is not None and n != 1:
        raise bad_request("n > 1 is not supported by Anthropic models; send n separate requests", "n")
    if body.get("functions") or body.get("function_call"):
        raise bad_request("legacy functions/function_call are not supported; use tools", "functions")
    system, messages = convert_messages(body.get("messages") or [])
    out: dict[str, Any] = {"model": target.model, "messages": messages}
    if system is not None:
        out["system"] = system
    out["max_tokens"] = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    for key in ("temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    _apply_tools(body, out)
    _apply_reasoning(body, out, target)
    cap = target.config.get("max_output")
    if cap and out["max_tokens"] > cap:
        out["max_tokens"] = cap
        _fit_thinking(out)
    note = _apply_response_format(body, out, target)
    stream = bool(body.get("stream"))
    if stream:
        out["stream"] = True
    return UpstreamRequest(
        "POST",
        target.base_url.rstrip("/") + "/messages",
        _headers(target),
        orjson.dumps(out),
        stream,
        [note] if note else [],
    )


def native_request(
    body: dict[str, Any], target: Target, caller_headers: Mapping[str, str]
) -> UpstreamRequest:
    out = dict(body)
    out["model"] = target.model
    headers = _headers(target)
    beta = caller_headers.get("anthropic-beta")
    if beta:
        headers["anthropic-beta"] = beta
    stream = out.get("stream") is True
    return UpstreamRequest(
        "POST", target.base_url.rstrip("/") + "/messages", headers, orjson.dumps(out), stream
    )


def count_request(body: dict[str, Any], target: Target, caller_headers: Mapping[str, str]) -> UpstreamRequest:
    """Anthropic's token count: the native request without `stream`, sent to `/messages/count_tokens`."""
    req = native_request({k: v for k, v in body.items() if k != "stream"}, target, caller_headers)
    return replace(req, url=req.url + "/count_tokens", stream=False)


def _headers(target: Target) -> dict[str, str]:
    headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
    if target.api_key:
        if target.auth == "x-api-key":
            headers["x-api-key"] = target.api_key
        elif target.auth == "bearer":
            headers["authorization"] = f"Bearer {target.api_key}"
    headers.update(target.headers)
    return headers


# --- messages ---------------------------------------------------------------------------------


def convert_messages(raw: list[dict[str, Any]]) -> tuple[str | list[dict[str, Any]] | None, list[dict]]:
    """Split out the system prompt and turn the rest into strictly alternating Anthropic messages."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(raw):
        role = msg.get("role")
        if role in ("system", "developer"):
            system.extend(_with_cache(_blocks(msg.get("content"), f"messages[{i}]"), msg))
            continue
        if role == "user":
            new_role, blocks = "user", _with_cache(_blocks(msg.get("content"), f"messages[{i}]"), msg)
        elif role == "assistant":
            new_role, blocks = "assistant", _with_cache(_assistant_blocks(msg, i), msg)
        elif role == "tool":
            new_role, blocks = "user", [_tool_result(msg, i)]
        else:
            raise bad_request(f"unsupported message role {role!r} for Anthropic", f"messages[{i}].role")
        if not blocks:
            continue  # empty content: nothing to send, and Anthropic rejects empty messages
        if out and out[-1]["role"] == new_role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": new_role, "content": blocks})
    if not out:
        raise bad_request("Anthropic requires at least one non-system message", "messages")
    for m in out:
        blocks = m["content"]
        if m["role"] == "user":  # tool_result blocks must lead a user turn
            blocks.sort(key=lambda b: b.get("type") != "tool_result")
        if len(blocks) == 1 and blocks[0]["type"] == "text" and len(blocks[0]) == 2:
            m["content"] = blocks[0]["text"]  # plain string: byte-identical to what most clients send
    sys_out: str | list[dict[str, Any]] | None = system or None
    if len(system) == 1 and system[0]["type"] == "text" and len(system[0]) == 2:
        sys_out = system[0]["text"]
    return sys_out, out


def _with_cache(blocks: list[dict[str, Any]], msg: dict[str, Any]) -> list[dict[str, Any]]:
    cc = msg.get("cache_control")
    if cc and blocks:
        blocks[-1] = {**blocks[-1], "cache_control": cc}
    return blocks


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []  # Anthropic rejects blank text
    if not isinstance(content, list):
        raise bad_request(f"{where}.content must be a string or a list of parts", f"{where}.content")
    out = []
    for j, part in enumerate(content):
        block = _part(part, f"{where}.content[{j}]")
        if block is not None:
            if isinstance(part, dict) and part.get("cache_control") and "cache_control" not in block:
                block["cache_control"] = part["cache_control"]
            out.append(block)
    return out


def _part(part: Any, where: str) -> dict[str, Any] | None:
    if isinstance(part, str):
        return {"type": "text", "text": part} if part.strip() else None
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("text", "refusal"):
        text = part.get(kind) or ""
        return {"type": "text", "text": text} if text.strip() else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url:
            raise bad_request(f"{where}.image_url.url is missing", where)
        return {"type": "image", "source": _source(url, where)}
    if kind == "file":
        file = part.get("file") or {}
        data = file.get("file_data")
        if not isinstance(data, str):
            raise bad_request(
                "Anthropic needs files inline as file_data (data: URL); file_id is unsupported", where
            )
        source = _source(data, where)
        if source.get("media_type") == "text/plain":  # text documents travel as plain text, not base64
            try:
                text = base64.b64decode(source["data"], validate=True).decode("utf-8", "replace")
            except ValueError:
                raise bad_request("file_data is not valid base64", where) from None
            source = {"type": "text", "media_type": "text/plain", "data": text}
        is_image = source.get("media_type", "").startswith("image/")
        block: dict[str, Any] = {"type": "image" if is_image else "document", "source": source}
        if file.get("filename") and not is_image:
            block["title"] = file["filename"]
        return block
    if kind in _NATIVE_BLOCKS:
        return dict(part)
    raise bad_request(f"content part type {kind!r} is not supported by Anthropic", where)


def _source(url: str, where: str) -> dict[str, Any]:
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not sep or encoding != "base64":
            raise bad_request("data: URLs must be base64-encoded (data:<mime>;base64,<data>)", where)
        return {"type": "base64", "media_type": media_type, "data": data}
    if url.startswith(("http://", "https://")):
        return {"type": "url", "url": url}
    raise bad_request("image/file URLs must be http(s) or data: URLs", where)


def _assistant_blocks(msg: dict[str, Any], i: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for tb in msg.get("thinking_blocks") or []:
        if tb.get("type") == "redacted_thinking":
            blocks.append({"type": "redacted_thinking", "data": tb.get("data", "")})
        elif tb.get("signature"):  # Anthropic rejects unsigned thinking; reasoning_content alone is dropped
            blocks.append(
                {"type": "thinking", "thinking": tb.get("thinking", ""), "signature": tb["signature"]}
            )
    blocks.extend(_blocks(msg.get("content"), f"messages[{i}]"))
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": safe_tool_id(call.get("id")),
                "name": fn.get("name"),
                "input": parse_arguments(fn.get("arguments")),
            }
        )
    return blocks


def _tool_result(msg: dict[str, Any], i: int) -> dict[str, Any]:
    content = msg.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": safe_tool_id(msg.get("tool_call_id"))}
    if isinstance(content, list):
        if parts := _blocks(content, f"messages[{i}]"):
            block["content"] = parts
    elif content:
        block["content"] = content if isinstance(content, str) else orjson.dumps(content).decode()
    if msg.get("cache_control"):
        block["cache_control"] = msg["cache_control"]
    return block


# --- tools, reasoning, response format -------------------------------------------------------------


def _apply_tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = [_tool(t, j) for j, t in enumerate(body.get("tools") or [])]
    if not tools:
        return
    out["tools"] = tools
    choice = _tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    if choice:
        out["tool_choice"] = choice


def _tool(tool: dict[str, Any], j: int) -> dict[str, Any]:
    if tool.get("type") != "function":
        return dict(tool)  # Anthropic-native tool (server tools, already-converted tools)
    fn = tool.get("function") or {}
    if not fn.get("name"):
        raise bad_request("tool function name is required", f"tools[{j}].function.name")
    out: dict[str, Any] = {"name": fn["name"]}
    if fn.get("description"):
        out["description"] = fn["description"]
    out["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
    cc = tool.get("cache_control") or fn.get("cache_control")
    if cc:
        out["cache_control"] = cc
    return out


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            return {"type": "tool", "name": (choice.get("function") or {}).get("name")}
        if choice.get("type") in ("auto", "any", "tool", "none"):
            return dict(choice)
    raise bad_request(f"unsupported tool_choice {choice!r} for Anthropic", "tool_choice")


def _apply_reasoning(body: dict[str, Any], out: dict[str, Any], target: Target) -> None:
    thinking, effort = claude.requested(body, body.get("thinking"), target.config)
    choice = out.get("tool_choice") or {}
    thinking, _ = claude.decide(
        thinking,
        forced_tool=choice.get("type") in ("any", "tool"),
        unsigned_tool_turn=claude.open_tool_turn(
            out["messages"], uses_tool=_uses_tool, starts_with_thinking=_leads_with_thinking
        ),
    )
    if thinking is None:
        return
    if effort is not None:
        out.setdefault("output_config", {})["effort"] = effort
    explicit = body.get("max_completion_tokens") or body.get("max_tokens")
    out["max_tokens"] = claude.fit_budget(thinking, explicit, out["max_tokens"])
    if claude.is_on(thinking):
        out.pop("temperature", None)
        out.pop("top_k", None)
        if "top_p" in out:
            out["top_p"] = claude.sampling_under_thinking(None, None, out["top_p"])[2]
    out["thinking"] = thinking


def _uses_tool(msg: dict[str, Any]) -> bool:
    content = msg.get("content")
    return isinstance(content, list) and any(b.get("type") == "tool_use" for b in content)


def _leads_with_thinking(msg: dict[str, Any]) -> bool:
    content = msg.get("content")
    return (
        isinstance(content, list)
        and bool(content)
        and content[0].get("type") in ("thinking", "redacted_thinking")
    )


def _fit_thinking(out: dict[str, Any]) -> None:
    """After max_tokens was capped to the model's ceiling, shrink the thinking budget below it."""
    thinking = claude.shrink_to_cap(out.get("thinking"), out["max_tokens"])
    if thinking is None:
        out.pop("thinking", None)
    elif "thinking" in out:
        out["thinking"] = thinking


def _apply_response_format(body: dict[str, Any], out: dict[str, Any], target: Target) -> str | None:
    """Structured output per the model's capability (`claude_rules.structured_output`); the adjustment made, if any."""
    how = claude.structured_output(body.get("response_format"), target.config.get("json_schema_mode"))
    if how is None:
        return None
    technique, schema, spec, note = how
    if technique == "native":
        out.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": schema}
        return None
    desc = spec.get("description") or f"Respond with the final answer as {spec.get('name') or 'JSON'}."
    out.setdefault("tools", []).append({"name": JSON_TOOL, "description": desc, "input_schema": schema})
    only_json_tool = len(out["tools"]) == 1
    if only_json_tool and "thinking" not in out:
        out["tool_choice"] = {"type": "tool", "name": JSON_TOOL}
    elif only_json_tool:
        out["tool_choice"] = {"type": "auto"}  # forced tool use is not allowed with thinking
    return note
