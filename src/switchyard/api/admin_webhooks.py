"""Admin API for webhooks and alert rules (`/admin/v1/orgs/{org}/webhooks`, `.../alerts`); the operations are in
`admin/webhooks.py`. `{org}` is an organisation's id or its name, as everywhere in `/admin/v1`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..admin import webhooks as wh
from ..admin.base import page, parse
from ..admin.orgs import resolve_org
from .admin import Handler, Result, _body, routes


async def _org(request: Request, deps: Any) -> Any:
    return await resolve_org(deps.store, request.path_params["org"])


async def create_webhook(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    body = parse(wh.WebhookCreate, await _body(request))
    return 201, await wh.create_webhook(deps.webhooks, deps.secrets, org, body)


async def list_webhooks(request: Request, deps: Any) -> Result:
    return {"data": await wh.list_webhooks(deps.webhooks, await _org(request, deps))}


async def delete_webhook(request: Request, deps: Any) -> Result:
    hook_id = request.path_params["webhook_id"]
    await wh.delete_webhook(deps.webhooks, await _org(request, deps), hook_id)
    return {"id": hook_id, "deleted": True}


async def list_deliveries(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    limit, offset = page(request.query_params.get("limit"), request.query_params.get("offset"))
    data = await wh.list_deliveries(deps.webhooks, org, request.path_params["webhook_id"], limit, offset)
    return {"data": data, "limit": limit, "offset": offset}


async def create_alert(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    return 201, await wh.create_alert(deps.webhooks, org, parse(wh.AlertCreate, await _body(request)))


async def list_alerts(request: Request, deps: Any) -> Result:
    return {"data": await wh.list_alerts(deps.webhooks, await _org(request, deps))}


async def delete_alert(request: Request, deps: Any) -> Result:
    rule_id = request.path_params["alert_id"]
    await wh.delete_alert(deps.webhooks, await _org(request, deps), rule_id)
    return {"id": rule_id, "deleted": True}


def admin_webhook_routes() -> list[Route]:
    table: list[tuple[str, str, Handler]] = [
        ("POST", "/orgs/{org}/webhooks", create_webhook),
        ("GET", "/orgs/{org}/webhooks", list_webhooks),
        ("DELETE", "/orgs/{org}/webhooks/{webhook_id}", delete_webhook),
        ("GET", "/orgs/{org}/webhooks/{webhook_id}/deliveries", list_deliveries),
        ("POST", "/orgs/{org}/alerts", create_alert),
        ("GET", "/orgs/{org}/alerts", list_alerts),
        ("DELETE", "/orgs/{org}/alerts/{alert_id}", delete_alert),
    ]
    return routes(table)
