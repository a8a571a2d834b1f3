"""Answers the mock Anthropic gives when a request asks for structured output, as Claude would shape them:
a forced tool (`tool_choice: {type: tool}`) is answered with a `tool_use` of that tool, `output_config.format` with
a text block holding JSON. The JSON is a small instance of the schema that was sent (SYNTHETIC: no recording)."""

from __future__ import annotations

from typing import Any

import orjson


def instance(schema: Any) -> Any:
    """A value that satisfies a simple JSON schema (objects, arrays, enums, scalars)."""
    if not isinstance(schema, dict):
        return "ok"
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: instance(v) for k, v in props.items()} if props else {"answer": "ok"}
    if kind == "array":
        return [instance(schema.get("items"))]
    return {"string": "Paris", "integer": 21, "number": 21.5, "boolean": True, "null": None}.get(kind, "ok")


def anthropic_answer(body: Any, model: str | None) -> dict[str, Any] | None:
    if not isinstance(body, dict) or body.get("stream") is True:
        return None
    content: list[dict[str, Any]]
    choice = body.get("tool_choice")
    fmt = (
        (body.get("output_config") or {}).get("format")
        if isinstance(body.get("output_config"), dict)
        else None
    )
    if isinstance(choice, dict) and choice.get("type") == "tool":
        tool = next((t for t in body.get("tools") or () if t.get("name") == choice.get("name")), {})
        content = [
            {
                "type": "tool_use",
                "id": "toolu_01MockStructured0001",
                "name": choice.get("name"),
                "input": instance(tool.get("input_schema")),
            }
        ]
        stop = "tool_use"
    elif isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        content = [{"type": "text", "text": orjson.dumps(instance(fmt.get("schema"))).decode()}]
        stop = "end_turn"
    else:
        return None
    return {
        "id": "msg_01MockStructured0001",
        "type": "message",
        "role": "assistant",
        "model": model or body.get("model"),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 20,
            "output_tokens": 10,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
