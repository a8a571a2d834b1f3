"""Bodies as the request log and traces keep them: text (bytes decoded, objects serialised), cut to a byte limit
with a marker saying how much was cut. The store makes any text storable (NUL bytes, see stores/log_writer.py),
so a record is never refused for its content."""

from __future__ import annotations

from typing import Any

import orjson

MAX_BODY_BYTES = 1_000_000  # default of log.max_body_bytes


def truncated(s: str, limit: int) -> str:
    """`s` cut to at most `limit` UTF-8 bytes (on a character boundary), with a marker saying how much was cut."""
    if len(s) * 4 <= limit:  # cannot be over: no need to encode
        return s
    raw = s.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return s
    kept = raw[:limit].decode("utf-8", "ignore")
    return f"{kept}...[truncated by Switchyard: {len(raw):,} bytes, log.max_body_bytes is {limit:,}]"


def body_text(value: Any, limit: int = MAX_BODY_BYTES) -> str | None:
    """A body for the log: bytes decoded as UTF-8 (invalid bytes replaced), text as is, anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, bytes):
        s = value.decode("utf-8", "replace")
    elif isinstance(value, str):
        s = value
    else:
        s = orjson.dumps(value).decode()
    return truncated(s, limit)
