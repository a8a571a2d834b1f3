"""The request query API (Helicone-style): POST /v1/request/query and GET /v1/request/{id}.

Authenticated with a gateway key; returns only the caller's organisation's rows, in Helicone's
`HeliconeRequest` field names, wrapped as `{"data": ..., "error": null}`.

Bounded: the query body is at most 1 MiB (413), `limit` at most 1,000 rows, `offset` at most 2^31 − 1, the filter
at most 1,000 conditions (400, stores/filters.py). A page carries at most `MAX_PAGE_BODY_CHARS` characters of
request and response bodies: rows past that come with `request_body`/`response_body` null and
`bodies_omitted: true` (fetch them one at a time with GET /v1/request/{id}), so an answer stays a few MB whatever
the bodies. Every error is in the OpenAI shape: 400 for a bad query, 503 when the database is unreachable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..errors import GatewayError, bad_request
from ..pipeline.headers import canonical_request_id, header_map
from ..stores.base import RequestQuery, StoreUnavailable
from ..stores.filters import FilterError
from ..stores.insights import annotations_for
from .annotations import with_annotations
from .asgi import read_body

_MAX_LIMIT = 1000
_MAX_OFFSET = 2**31 - 1
MAX_QUERY_BYTES = 1 << 20
MAX_PAGE_BODY_CHARS = 4_000_000


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _body(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def to_helicone(row: dict[str, Any]) -> dict[str, Any]:
    """A log row in Helicone's field names (plus Switchyard's extra fields)."""
    out = {
        "request_id": row["id"],
        "request_created_at": _iso(row["created_at"]),
        "request_path": row["path"],
        "request_model": row["requested_model"],
        "response_model": row["model"],
        "model": row["model"],
        "provider": row["provider"],
        "response_status": row["status"],
        "error": row["error"],
        "stream": row["stream"],
        "cache_hit": row["cache_hit"],
        "delay_ms": row["latency_ms"],
        "time_to_first_token": row["ttft_ms"],
        "gateway_overhead_ms": row["overhead_ms"],
        "prompt_tokens": row["prompt_tokens"],
        "completion_tokens": row["completion_tokens"],
        "total_tokens": row["total_tokens"],
        "prompt_cache_read_tokens": row["cached_tokens"],
        "prompt_cache_write_tokens": row["cache_write_tokens"],
        "reasoning_tokens": row["reasoning_tokens"],
        "costUSD": row["cost_usd"],
        "cost_saved_usd": row.get("cost_saved_usd"),
        "request_user_id": row["user_id"],
        "session_id": row["session_id"],
        "session_path": row["session_path"],
        "session_name": row["session_name"],
        "prompt_id": row["prompt_id"],
        "request_properties": row["properties"],
        "key_id": row["key_id"],
        "attempts": row["attempts"],
        "pinned": row.get("pinned"),  # session affinity (docs/routing.md): null when no session was named
    }
    if "request_body" in row:
        out["request_body"] = _body(row["request_body"])
        out["response_body"] = _body(row["response_body"])
        if row.get("bodies_omitted"):
            out["bodies_omitted"] = True  # over the page's body budget: GET /v1/request/{id} has them
    if row.get("duplicate_of"):
        out["duplicate_of"] = row["duplicate_of"]  # this request asked for that id while another held it
    return out


def _sort(raw: Any) -> list[tuple[str, str]]:
    if raw is None:
        return [("created_at", "desc")]
    if not isinstance(raw, dict):
        raise bad_request('\'sort\' must be an object like {"created_at": "desc"}.', param="sort")
    out = []
    for field, direction in raw.items():
        if direction not in ("asc", "desc"):
            raise bad_request(f'sort direction for {field!r} must be "asc" or "desc".', param="sort")
        out.append((field, direction))
    return out or [("created_at", "desc")]


def _int(body: dict[str, Any], name: str, default: int, hi: int | None = None) -> int:
    v = body.get(name, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise bad_request(f"'{name}' must be a non-negative integer.", param=name)
    if v > _MAX_OFFSET:
        raise bad_request(f"'{name}' must be at most {_MAX_OFFSET}.", param=name)
    return min(v, hi) if hi is not None else v


def _error(e: GatewayError) -> Response:
    return Response(e.openai_body(), status_code=e.status, media_type="application/json")


def _unavailable() -> GatewayError:
    return GatewayError(503, "The request log is unavailable; try again shortly.", code="store_unavailable")


async def _read(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_QUERY_BYTES:
        raise GatewayError(
            413, f"The query body is larger than {MAX_QUERY_BYTES} bytes.", code="request_too_large"
        )
    return await read_body(request.receive, MAX_QUERY_BYTES)


async def _principal(request: Request):
    return await request.app.state.deps.auth.authenticate(header_map(request.scope["headers"]))


async def query_requests(request: Request) -> Response:
    deps = request.app.state.deps
    try:
        principal = await _principal(request)
        try:
            body = orjson.loads(await _read(request) or b"{}")
        except orjson.JSONDecodeError:
            raise bad_request("The request body is not valid JSON.", code="invalid_json") from None
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.", code="invalid_json")
        is_cached = body.get("isCached")
        q = RequestQuery(
            org_id=principal.org.id,
            filter=body.get("filter", "all"),
            sort=_sort(body.get("sort")),
            limit=_int(body, "limit", 100, _MAX_LIMIT),
            offset=_int(body, "offset", 0),
            is_cached=is_cached if isinstance(is_cached, bool) else None,
            include_bodies=body.get("includeBodies", True) is not False,
            max_body_chars=MAX_PAGE_BODY_CHARS,
        )
        try:
            rows = await deps.store.query_requests(q)
            notes = await annotations_for(deps.store, principal.org.id, [r["id"] for r in rows])
        except FilterError as e:
            raise bad_request(f"Invalid filter: {e}", code="invalid_filter", param="filter") from None
        except StoreUnavailable:
            raise _unavailable() from None
    except GatewayError as e:
        return _error(e)
    data = [with_annotations(to_helicone(r), notes[r["id"]]) for r in rows]
    return Response(orjson.dumps({"data": data, "error": None}), media_type="application/json")


async def get_request(request: Request) -> Response:
    deps = request.app.state.deps
    try:
        principal = await _principal(request)
        rid = canonical_request_id(
            request.path_params["request_id"]
        )  # ids are UUIDs: anything else is not one
        try:
            row = await deps.store.get_request(principal.org.id, rid) if rid else None
            notes = await annotations_for(deps.store, principal.org.id, [rid] if rid and row else [])
        except StoreUnavailable:
            raise _unavailable() from None
        except FilterError:  # not reachable with a canonical id; never a 500 all the same
            row = None
        if row is None:
            raise GatewayError(404, "No request with that id in your organisation.", code="request_not_found")
    except GatewayError as e:
        return _error(e)
    data = with_annotations(to_helicone(row), notes[row["id"]])
    return Response(orjson.dumps({"data": data, "error": None}), media_type="application/json")
