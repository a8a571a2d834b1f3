"""RequestContext → the request-log record (one row in `requests`, plus its properties).

The request body is the caller's bytes as received (decompressed), never a re-serialisation: unless a step
replaced the body (a managed prompt's expansion, the token-limit handler's cut), and then the body sent instead,
with the step named in the `switchyard-request-rewritten-by` property. Text is kept as the caller sent it (`observe/body_text.py` cuts it to `log.max_body_bytes`); the store makes it
storable (NUL bytes, see stores/log_writer.py), so a record is never refused for its content.
"""

from __future__ import annotations

from typing import Any

from ..observe.body_text import MAX_BODY_BYTES, body_text
from .context import RequestContext


def build_record(
    ctx: RequestContext, *, store_bodies: bool = True, max_body_bytes: int = MAX_BODY_BYTES
) -> dict[str, Any]:
    h = ctx.helicone
    p = ctx.principal
    body = ctx.body if isinstance(ctx.body, dict) else None
    user = h.user_id or (body.get("user") if body and isinstance(body.get("user"), str) else None)
    u = ctx.usage
    return {
        "id": h.request_id,
        "uid": h.uid or h.request_id,
        "duplicate_of": h.duplicate_of,
        "org_id": p.org.id if p else "",
        "key_id": p.key.id if p else None,
        "created_at": ctx.created_at_ms,
        "path": ctx.path[:200],
        "requested_model": ctx.requested_model,
        "model": ctx.model,
        "provider": ctx.provider,
        "status": ctx.status,
        "error": ctx.error,
        "stream": ctx.stream,
        "cache_hit": ctx.cache_hit,
        "latency_ms": round(ctx.elapsed_ms(), 3),
        "ttft_ms": round(ctx.ttft_ms, 3) if ctx.ttft_ms is not None else None,
        "overhead_ms": round(ctx.overhead_ms(), 3),
        "prompt_tokens": u.prompt_tokens if u else None,
        "completion_tokens": u.completion_tokens if u else None,
        "total_tokens": u.total_tokens if u else None,
        "cached_tokens": u.cached_tokens if u else None,
        "cache_write_tokens": u.cache_write_tokens if u else None,
        "reasoning_tokens": u.reasoning_tokens if u else None,
        "cost_usd": ctx.cost_usd,
        "cost_saved_usd": ctx.cost_saved_usd,
        "user_id": user,
        "session_id": h.session_id,
        "session_path": h.session_path,
        "session_name": h.session_name,
        "prompt_id": h.prompt_id,
        "properties": _properties(ctx),  # whole names: the store indexes them by hash, never cuts them
        "request_body": None
        if (h.omit_request or not store_bodies)
        else body_text(logged_request(ctx), max_body_bytes),
        "response_body": None
        if (h.omit_response or not store_bodies)
        else body_text(ctx.response_body, max_body_bytes),
        "attempts": [a.as_dict() for a in ctx.attempts],
        "pinned": ctx.pinned,  # session affinity (pipeline/session_pins.py)
    }


REWRITTEN_BY = "switchyard-request-rewritten-by"


def logged_request(ctx: RequestContext) -> Any:
    """The request as the log keeps it: the caller's bytes, or the body a step replaced them with."""
    if ctx.rewritten_by is not None and ctx.body is not None:
        return ctx.body
    return ctx.raw_body


def _properties(ctx: RequestContext) -> dict[str, str]:
    props = dict(ctx.helicone.properties)
    if ctx.rewritten_by is not None:
        props[REWRITTEN_BY] = ctx.rewritten_by
    return props
