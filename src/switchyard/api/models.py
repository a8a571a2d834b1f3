"""GET /v1/models and /v1/models/{id}: the registry's models, in the caller's own wire shape.

A caller that speaks Anthropic (an `anthropic-version` header, or `x-api-key` auth without `Authorization`) gets
Anthropic's list (`type`, `display_name`, RFC 3339 `created_at`, cursor pagination with `after_id`/`before_id`/
`limit`, `has_more`, `first_id`, `last_id`, newest first as Anthropic lists them); everyone else gets OpenAI's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..errors import GatewayError

_ANTHROPIC_MAX_LIMIT = 1000
_ANTHROPIC_DEFAULT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class ModelCatalog:
    """Both list shapes, built once from the registry at start."""

    openai: bytes
    openai_by_id: dict[str, dict[str, Any]]  # serialised per request (orjson output keeps >= 4 kB each)
    anthropic: tuple[dict[str, Any], ...]  # newest first
    anthropic_index: dict[str, int]


def _listed(registry: Any) -> list[Any]:
    return [m for m in registry.models.values() if m.endpoints]


def _openai_entry(m: Any) -> dict[str, Any]:
    return {"id": m.id, "object": "model", "created": m.created, "owned_by": m.author}


def _anthropic_entry(m: Any) -> dict[str, Any]:
    created = dt.datetime.fromtimestamp(m.created or 0, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "model", "id": m.id, "display_name": m.name or m.id, "created_at": created}


def build_catalog(registry: Any, aliases: dict[str, str] | None = None) -> ModelCatalog:
    models = _listed(registry)
    by_id = sorted(models, key=lambda m: m.id)
    newest = sorted(models, key=lambda m: (-(m.created or 0), m.id))
    anthropic = tuple(_anthropic_entry(m) for m in newest) + tuple(
        {"type": "model", "id": a, "display_name": a, "created_at": "1970-01-01T00:00:00Z"}
        for a in sorted(aliases or {})
        if a not in registry.models
    )
    # Operator aliases (`models.aliases`) are listed too, owned by "switchyard" (their target is configuration).
    openai = [_openai_entry(m) for m in by_id] + [
        {"id": a, "object": "model", "created": 0, "owned_by": "switchyard"}
        for a in sorted(aliases or {})
        if a not in registry.models
    ]
    listing = orjson.dumps({"object": "list", "data": openai})
    return ModelCatalog(
        # a copy of the exact length: orjson's output keeps the buffer it grew (~3x the text here)
        openai=bytes(memoryview(listing)),
        openai_by_id={e["id"]: e for e in openai},
        anthropic=anthropic,
        anthropic_index={e["id"]: i for i, e in enumerate(anthropic)},
    )


def speaks_anthropic(headers: Any) -> bool:
    return "anthropic-version" in headers or ("x-api-key" in headers and "authorization" not in headers)


def anthropic_page(catalog: ModelCatalog, params: Any) -> dict[str, Any]:
    """One page of Anthropic's list: `limit` (1..1000, default 20) after `after_id` or before `before_id`."""
    raw_limit = params.get("limit")
    try:
        limit = _ANTHROPIC_DEFAULT_LIMIT if raw_limit is None else int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= _ANTHROPIC_MAX_LIMIT:
        raise GatewayError(
            400, f"limit: must be an integer from 1 to {_ANTHROPIC_MAX_LIMIT}.", code="invalid_request_error"
        )
    entries, index = catalog.anthropic, catalog.anthropic_index
    after, before = params.get("after_id"), params.get("before_id")
    if after is not None and before is not None:
        raise GatewayError(400, "Use either after_id or before_id, not both.", code="invalid_request_error")
    start, end = 0, len(entries)
    for cursor in (after, before):
        if cursor is not None and cursor not in index:
            raise GatewayError(
                400, f"Unknown model id in the cursor: {cursor!r}.", code="invalid_request_error"
            )
    if after is not None:
        start = index[after] + 1
        end = min(len(entries), start + limit)
        has_more = end < len(entries)
    elif before is not None:
        end = index[before]
        start = max(0, end - limit)
        has_more = start > 0
    else:
        end = min(len(entries), limit)
        has_more = end < len(entries)
    page = list(entries[start:end])
    return {
        "data": page,
        "has_more": has_more,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    }


def _error(request: Request, e: GatewayError) -> Response:
    body = e.anthropic_body() if speaks_anthropic(request.headers) else e.openai_body()
    return Response(body, status_code=e.status, media_type="application/json")


async def list_models(request: Request) -> Response:
    catalog: ModelCatalog = request.app.state.deps.models
    if not speaks_anthropic(request.headers):
        return Response(catalog.openai, media_type="application/json")
    try:
        page = anthropic_page(catalog, request.query_params)
    except GatewayError as e:
        return _error(request, e)
    return Response(orjson.dumps(page), media_type="application/json")


async def get_model(request: Request) -> Response:
    catalog: ModelCatalog = request.app.state.deps.models
    model_id = request.path_params["model_id"]
    if speaks_anthropic(request.headers):
        i = catalog.anthropic_index.get(model_id)
        if i is not None:
            return Response(orjson.dumps(catalog.anthropic[i]), media_type="application/json")
    elif model_id in catalog.openai_by_id:
        return Response(orjson.dumps(catalog.openai_by_id[model_id]), media_type="application/json")
    err = GatewayError(
        404,
        f"The model '{model_id}' does not exist; GET /v1/models lists the models.",
        code="model_not_found",
    )
    return _error(request, err)
