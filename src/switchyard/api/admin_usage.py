"""`GET /admin/v1/orgs/{org}/usage?group_by=customer&start=…&end=…`: usage per Stripe customer and period
(`admin/usage.py`, shared with the CLI's `switchyard usage`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..admin.usage import usage_report
from .admin import Result, routes


async def get_usage(request: Request, deps: Any) -> Result:
    q = request.query_params
    return await usage_report(
        deps.store, request.path_params["org"], q.get("group_by"), q.get("start"), q.get("end")
    )


def admin_usage_routes() -> list[Route]:
    return routes([("GET", "/orgs/{org}/usage", get_usage)])
