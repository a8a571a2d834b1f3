"""Tool-call arguments between formats: OpenAI carries them as a JSON string, Anthropic/Bedrock/Gemini as an object."""

from __future__ import annotations

import re
from typing import Any

import orjson


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """OpenAI tool-call arguments (a JSON string) → an object.

    Empty → {}. Anything that is not a JSON object (invalid or truncated JSON, a list, a number) is kept verbatim
    as {"_raw": arguments}, so the model still sees what it sent instead of the call being dropped.
    """
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    try:
        value = orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError):
        return {"_raw": arguments if isinstance(arguments, str) else str(arguments)}
    return value if isinstance(value, dict) else {"_raw": arguments}


_TOOL_ID_BAD = re.compile(r"[^A-Za-z0-9_-]")


def safe_tool_id(raw: Any) -> str:
    """Tool-call ids as Anthropic and Bedrock accept them ([a-zA-Z0-9_-]{1,64}): other characters become `_`.

    Applied to a call and to its result alike, so the pair stays bound (e.g. Kimi's `functions.get_weather:0`).
    """
    return _TOOL_ID_BAD.sub("_", str(raw or ""))[:64] or "call"
