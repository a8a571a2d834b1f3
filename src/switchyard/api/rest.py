"""What the Helicone-style REST endpoints share: the caller's organisation from its gateway key, a bounded JSON body,
`{"data": ..., "error": null}` answers, and errors in the OpenAI shape (400 bad input, 404 unknown or another
organisation's id, 503 store down) — never a 500."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..errors import GatewayError, bad_request
from ..pipeline.headers import header_map
from ..stores.filters import FilterError
from ..stores.insights_types import InsightsError, TimeRange
from ..stores.sql_errors import STORE_DOWN
from .asgi import read_body

log = logging.getLogger("switchyard.api")
MAX_BODY = 1 << 20


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def ok(data: Any) -> Response:
    return Response(orjson.dumps({"data": data, "error": None}), media_type="application/json")


def not_found(what: str = "request") -> GatewayError:
    return GatewayError(404, f"No {what} with that id in your organisation.", code=f"{what}_not_found")


async def json_body(request: Request, *, required: bool = False) -> dict[str, Any]:
    raw = await read_body(request.receive, MAX_BODY)
    if not raw.strip():
        if required:
            raise bad_request("The request body must be a JSON object.", code="invalid_json")
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    return body


def number(body: dict[str, Any], name: str, default: float | None = None) -> float | None:
    v = body.get(name, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v or abs(v) == float("inf"):
        raise bad_request(f"'{name}' must be a number.", param=name)
    return v


def paging(body: dict[str, Any], default_limit: int = 100, most: int = 1000) -> tuple[int, int]:
    limit, offset = number(body, "limit", default_limit), number(body, "offset", 0)
    if limit is None or limit < 0 or offset is None or offset < 0 or offset > 2**31 - 1:
        raise bad_request("'limit' and 'offset' must be non-negative numbers.", param="limit")
    return min(int(limit), most), int(offset)


def time_filter(body: dict[str, Any], unit_ms: int, start_key: str, end_key: str) -> TimeRange:
    """Helicone's {"timeFilter": {start, end}} in `unit_ms` units; none: all time."""
    tf = body.get("timeFilter")
    if tf is None:
        return TimeRange(0, 2**53)
    if not isinstance(tf, dict):
        raise bad_request("'timeFilter' must be an object.", param="timeFilter")
    start, end = number(tf, start_key), number(tf, end_key)
    if start is None or end is None or end <= start:
        raise bad_request(f"'timeFilter' needs {start_key} < {end_key}.", param="timeFilter")
    return TimeRange(int(start * unit_ms), int(end * unit_ms))


Handler = Callable[[Request, str], Awaitable[Response]]


def org_scoped(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate the gateway key and call `fn(request, org_id)`; map every failure to its status."""

    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        try:
            principal = await request.app.state.deps.auth.authenticate(header_map(request.scope["headers"]))
            return await fn(request, principal.org.id)
        except GatewayError as e:
            err = e
        except (InsightsError, FilterError) as e:
            err = bad_request(str(e), code="invalid_request")
        except STORE_DOWN:
            err = GatewayError(
                503, "The request log is unavailable; try again shortly.", code="store_unavailable"
            )
        return Response(err.openai_body(), status_code=err.status, media_type="application/json")

    return endpoint
