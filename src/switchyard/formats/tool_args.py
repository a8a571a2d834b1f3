"""Tool-call arguments between formats: OpenAI carries them as a JSON string, Anthropic/Bedrock/Gemini as an object."""

from __future__ import annotations

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
