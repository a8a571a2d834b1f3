"""Helicone's request endpoints beyond the query: POST /v1/request/count/query, and what callers add to a logged
request afterwards — POST /v1/request/{id}/feedback {"rating": bool}, POST /v1/request/{id}/score
{"scores": {name: number|bool}}, PUT /v1/request/{id}/property {"key", "value"}. Each answers
`{"data": null, "error": null}`; an unknown id, or another organisation's, is a 404."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import bad_request
from ..pipeline.headers import canonical_request_id
from ..stores import insights
from .rest import iso, json_body, not_found, ok, org_scoped


def with_annotations(out: dict[str, Any], note: dict[str, Any]) -> dict[str, Any]:
    """A Helicone request row plus Helicone's feedback and score fields (for /v1/request/query and GET by id)."""
    fb = note["feedback"]
    out["feedback_rating"] = fb.rating if fb else None
    out["feedback_created_at"] = iso(fb.created_at) if fb else None
    out["scores"] = note["scores"]
    return out


def _request_id(request: Request) -> str:
    rid = canonical_request_id(request.path_params["request_id"])  # stored ids are lowercase UUIDs
    if rid is None:
        raise not_found()
    return rid


@org_scoped
async def count_query(request: Request, org_id: str) -> Response:
    body = await json_body(request)
    cached = body.get("isCached")
    n = await insights.count_requests(
        request.app.state.deps.store,
        org_id,
        body.get("filter", "all"),
        cached if isinstance(cached, bool) else None,
    )
    return ok(n)


@org_scoped
async def feedback(request: Request, org_id: str) -> Response:
    rid = _request_id(request)
    body = await json_body(request, required=True)
    rating = body.get("rating")
    if not isinstance(rating, bool):
        raise bad_request("'rating' must be true or false.", param="rating")
    if not await insights.set_feedback(request.app.state.deps.store, org_id, rid, rating):
        raise not_found()
    return ok(None)


@org_scoped
async def score(request: Request, org_id: str) -> Response:
    rid = _request_id(request)
    body = await json_body(request, required=True)
    scores = body.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise bad_request("'scores' must be a non-empty object of name → number or boolean.", param="scores")
    if not await insights.set_scores(request.app.state.deps.store, org_id, rid, scores):
        raise not_found()
    return ok(None)


@org_scoped
async def put_property(request: Request, org_id: str) -> Response:
    rid = _request_id(request)
    body = await json_body(request, required=True)
    key, value = body.get("key"), body.get("value")
    if not isinstance(key, str) or not key.strip():
        raise bad_request("'key' must be a non-empty string.", param="key")
    if not isinstance(value, str):
        raise bad_request("'value' must be a string.", param="value")
    if not await insights.set_property(request.app.state.deps.store, org_id, rid, key, value):
        raise not_found()
    return ok(None)
