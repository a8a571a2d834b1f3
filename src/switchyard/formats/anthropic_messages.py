"""The Anthropic Messages caller surface (`/v1/messages`): an Anthropic-SDK caller served by any provider.

Requests are turned into OpenAI chat bodies (the gateway's lingua franca), answers back into Anthropic
`message` objects, stream chunks into Anthropic SSE (`anthropic_messages_stream.py`).

Anthropic-only details ride along as extension keys that the Anthropic provider reads back, so an Anthropic
upstream gets what the caller sent: the `thinking` dict (beside a `reasoning_effort` for other providers),
assistant `thinking_blocks`, `cache_control` on content parts, tools and tool messages, `is_error` on tool
messages, and Anthropic-native blocks (`document`, `search_result`, server tools) as content parts / tools.

One `MessagesSurface` instance per request: the stream encoder inside it is stateful.
"""

from __future__ import annotations

from typing import Any

from ..errors import GatewayError, bad_request
from .anthropic_messages_content import assistant_message, system_content, user_messages
from .anthropic_messages_stream import (
    MessagesStreamEncoder,
    anthropic_usage,
    message_id,
    stop_reason,
    tool_use_id,
)
from .tool_args import parse_arguments

# Top-level parameters with the same name and meaning in both APIs.
_SHARED = ("model", "max_tokens", "temperature", "top_p", "top_k")


def effort_for_budget(budget: int) -> str:
    if budget <= 2048:
        return "low"
    if budget <= 8192:
        return "medium"
    return "high"


# --- request --------------------------------------------------------------------------------------


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """Anthropic Messages request → OpenAI chat body. Raises GatewayError(400) for what Anthropic would reject."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request(
            "'messages' must be a non-empty array of messages.", code="invalid_messages", param="messages"
        )
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise bad_request(
            "Missing required parameter: 'max_tokens'.", code="missing_max_tokens", param="max_tokens"
        )
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise bad_request("'max_tokens' must be a positive integer.", param="max_tokens")
    out: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        out.append({"role": "system", "content": system_content(system)})
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise bad_request(f"messages[{i}] must be an object.", param=f"messages[{i}]")
        role, content = msg.get("role"), msg.get("content")
        if not isinstance(content, (str, list)):
            raise bad_request(
                f"messages[{i}].content must be a string or an array of content blocks.",
                param=f"messages[{i}].content",
            )
        if role == "user":
            out.extend(user_messages(content, i))
        elif role == "assistant":
            out.append(assistant_message(content, i))
        else:
            raise bad_request(
                f"messages[{i}].role must be 'user' or 'assistant'.", param=f"messages[{i}].role"
            )
    chat: dict[str, Any] = {k: body[k] for k in _SHARED if body.get(k) is not None}
    chat["messages"] = out
    stops = body.get("stop_sequences")
    if stops:
        chat["stop"] = list(stops) if isinstance(stops, list) else [stops]
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    elif "stream" in body:
        chat["stream"] = bool(body["stream"])
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
        chat["user"] = metadata["user_id"]
    _tools(body, chat)
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        chat["thinking"] = dict(thinking)
        budget = thinking.get("budget_tokens")
        if thinking.get("type") == "enabled" and isinstance(budget, int):
            chat["reasoning_effort"] = effort_for_budget(budget)
    elif thinking is not None:
        raise bad_request("'thinking' must be an object.", param="thinking")
    fmt = output_format(body)
    if fmt is not None:
        chat["response_format"] = {"type": "json_schema", "json_schema": {"name": "response", "schema": fmt}}
    return chat


def output_format(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of Anthropic's structured outputs (`output_config.format`, or the beta's `output_format`),
    or None. Anything but a json_schema format is a 400, as Anthropic answers."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt is None:
        fmt = body.get("output_format")
    if fmt is None:
        return None
    if (
        not isinstance(fmt, dict)
        or fmt.get("type") != "json_schema"
        or not isinstance(fmt.get("schema"), dict)
    ):
        raise bad_request(
            '\'output_config.format\' must be {"type": "json_schema", "schema": {...}}.',
            param="output_config.format",
        )
    return fmt["schema"]


def _tools(body: dict[str, Any], chat: dict[str, Any]) -> None:
    raw = body.get("tools")
    if not raw:
        return
    if not isinstance(raw, list):
        raise bad_request("'tools' must be an array.", param="tools")
    tools = []
    for j, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise bad_request(f"tools[{j}] must be an object.", param=f"tools[{j}]")
        if tool.get("type") not in (None, "custom") and "input_schema" not in tool:
            tools.append(dict(tool))  # a server tool (web_search, bash, ...): only Anthropic runs these
            continue
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise bad_request(f"tools[{j}].name is required.", param=f"tools[{j}].name")
        fn: dict[str, Any] = {"name": tool["name"]}
        if isinstance(tool.get("description"), str):
            fn["description"] = tool["description"]
        fn["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
        if isinstance(tool.get("strict"), bool):
            fn["strict"] = tool["strict"]
        out: dict[str, Any] = {"type": "function", "function": fn}
        if tool.get("cache_control"):
            out["cache_control"] = tool["cache_control"]
        tools.append(out)
    chat["tools"] = tools
    choice = body.get("tool_choice")
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in ("auto", "none"):
        chat["tool_choice"] = kind
    elif kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise bad_request(
            "'tool_choice' must be {type: auto|any|none} or {type: tool, name}.", param="tool_choice"
        )
    if choice.get("disable_parallel_tool_use") and kind != "none":
        chat["parallel_tool_calls"] = False


# --- response -------------------------------------------------------------------------------------


def to_message(completion: dict[str, Any]) -> dict[str, Any]:
    """OpenAI chat.completion → Anthropic `message`. Only the first choice is used (Anthropic has no `n`)."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    msg = choice.get("message")
    msg = msg if isinstance(msg, dict) else {}
    content: list[dict[str, Any]] = []
    blocks = msg.get("thinking_blocks")
    if isinstance(blocks, list) and blocks:
        for tb in blocks:
            if not isinstance(tb, dict):
                continue
            if tb.get("type") == "redacted_thinking":
                content.append({"type": "redacted_thinking", "data": tb.get("data") or ""})
            else:
                content.append(
                    {
                        "type": "thinking",
                        "thinking": tb.get("thinking") or "",
                        "signature": tb.get("signature") or "",
                    }
                )
    else:
        reasoning = msg.get("reasoning_content") or msg.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = msg.get("content")
    if isinstance(text, list):  # content parts (rare in answers)
        content.extend(
            {"type": "text", "text": p.get("text") or ""}
            for p in text
            if isinstance(p, dict) and p.get("type") == "text" and p.get("text")
        )
    elif isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    elif isinstance(msg.get("refusal"), str) and msg["refusal"]:
        content.append({"type": "text", "text": msg["refusal"]})
    calls = [c for c in msg.get("tool_calls") or () if isinstance(c, dict)]
    for call in calls:
        fn = call.get("function")
        fn = fn if isinstance(fn, dict) else {}
        content.append(
            {
                "type": "tool_use",
                "id": tool_use_id(call.get("id")),
                "name": fn.get("name") or "",
                "input": parse_arguments(fn.get("arguments")),
            }
        )
    return {
        "id": message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model") or "",
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason"), bool(calls)),
        "stop_sequence": None,
        "usage": anthropic_usage(completion.get("usage")),
    }


# --- surface --------------------------------------------------------------------------------------


class MessagesSurface:
    """An Anthropic Messages caller. Stateful when streaming: construct one instance per request."""

    object_name = "message"
    kind = "messages"  # which native API this surface is (see Executor._request)
    upstream_path = "chat/completions"

    def __init__(self) -> None:
        self._stream = MessagesStreamEncoder()

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        return to_chat(body)

    def response(self, completion: dict[str, Any]) -> dict[str, Any]:
        return to_message(completion)

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        return self._stream.chunk(chunk)

    def done(self) -> bytes:
        return self._stream.done()

    def error_event(self, err: GatewayError) -> bytes:
        return self._stream.error_event(err)
