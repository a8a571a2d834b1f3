"""Admin API for webhooks and alert rules (`/admin/v1/orgs/{org}/webhooks`, `.../alerts`).

`{org}` is an organisation's id or its name, as everywhere in `/admin/v1`. A webhook's secret is stored
encrypted with the provider-key cipher (`security.Secrets`) and never shown again, except a secret the gateway
generated (none given), returned once in the answer that created it.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, StringConstraints, field_validator
from starlette.requests import Request
from starlette.routing import Route

from ..errors import GatewayError
from ..observe import webhook_messages as wm
from . import admin_ops as ops
from .admin import PREFIX, Handler, Result, _body, _route
from .admin_models import _Body, parse

MAX_PER_ORG = 50  # webhooks or alert rules per organisation
MAX_FILTER_KEYS = 32

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=512)]


def _check_url(v: str) -> str:
    if len(v) > 2048:
        raise ValueError("at most 2048 characters")
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; use the secret to authenticate the sender")
    return v


class WebhookCreate(_Body):
    url: str
    secret: Secret | None = None
    sample_rate: float = Field(1.0, ge=0.0, le=1.0, allow_inf_nan=False)
    property_filter: dict[str, str] = Field(default_factory=dict)
    include_bodies: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v)

    @field_validator("property_filter")
    @classmethod
    def _filter(cls, v: dict[str, str]) -> dict[str, str]:
        if len(v) > MAX_FILTER_KEYS:
            raise ValueError(f"at most {MAX_FILTER_KEYS} properties")
        if any(not k or len(k) > 200 or len(x) > 1000 for k, x in v.items()):
            raise ValueError("property names are 1-200 characters, values at most 1000")
        return v


class AlertCreate(_Body):
    name: Name
    metric: Literal["cost_usd", "error_rate", "latency_p95_ms", "budget_used_pct"]
    window_minutes: int = Field(ge=1, le=2880)  # the minute rollups cover the last 48 hours
    threshold: float = Field(ge=0, allow_inf_nan=False)
    webhook_url: str

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v)


def _ms() -> int:
    return int(time.time() * 1000)


def webhook_json(h: Any) -> dict[str, Any]:
    return {
        "id": h.id,
        "org_id": h.org_id,
        "url": h.url,
        "sample_rate": h.sample_rate,
        "property_filter": h.property_filter,
        "include_bodies": h.include_bodies,
        "created_at": h.created_at,
    }


def rule_json(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "org_id": r.org_id,
        "name": r.name,
        "metric": r.metric,
        "window_minutes": r.window_minutes,
        "threshold": r.threshold,
        "webhook_url": r.webhook_url,
        "state": r.state,
        "last_value": r.last_value,
        "evaluated_at": r.evaluated_at,
        "changed_at": r.changed_at,
        "created_at": r.created_at,
    }


def delivery_json(d: Any) -> dict[str, Any]:
    return {
        "webhook_id": d.id,
        "webhook": d.webhook_id,
        "request_id": d.request_id,
        "status": d.status,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "next_attempt_at": d.next_at if d.status == "pending" else None,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    }


def _not_found(what: str, ref: str, org: Any) -> GatewayError:
    return GatewayError(404, f"No {what} {ref!r} in organisation {org.name!r}.", code="not_found")


async def create_webhook(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    body = parse(WebhookCreate, await _body(request))
    hooks = deps.webhooks
    with ops.store_errors():
        if len(await hooks.store.list_webhooks(org.id)) >= MAX_PER_ORG:
            raise GatewayError(
                409,
                f"Organisation {org.name!r} has {MAX_PER_ORG} webhooks, the most allowed.",
                code="too_many_webhooks",
            )
        secret = body.secret or wm.new_secret()
        hook = await hooks.store.create_webhook(
            org.id,
            body.url,
            deps.secrets.encrypt(secret),
            body.sample_rate,
            body.property_filter,
            body.include_bodies,
            _ms(),
        )
        await hooks.reload()
    out = webhook_json(hook)
    if body.secret is None:
        out["secret"] = secret  # generated: shown this once
    return 201, out


async def list_webhooks(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    with ops.store_errors():
        return {"data": [webhook_json(h) for h in await deps.webhooks.store.list_webhooks(org.id)]}


async def delete_webhook(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    hook_id = request.path_params["webhook_id"]
    with ops.store_errors():
        if not await deps.webhooks.store.delete_webhook(org.id, hook_id):
            raise _not_found("webhook", hook_id, org)
        await deps.webhooks.reload()
    return {"id": hook_id, "deleted": True}


async def list_deliveries(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    hook_id = request.path_params["webhook_id"]
    limit, offset = ops.page(request.query_params.get("limit"), request.query_params.get("offset"))
    with ops.store_errors():
        hook = await deps.webhooks.store.get_webhook(hook_id)
        if hook is None or hook.org_id != org.id:
            raise _not_found("webhook", hook_id, org)
        rows = await deps.webhooks.store.deliveries(hook_id, limit, offset)
    return {"data": [delivery_json(d) for d in rows], "limit": limit, "offset": offset}


async def create_alert(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    body = parse(AlertCreate, await _body(request))
    store = deps.webhooks.store
    with ops.store_errors():
        if len(await store.list_rules(org.id)) >= MAX_PER_ORG:
            raise GatewayError(
                409,
                f"Organisation {org.name!r} has {MAX_PER_ORG} alert rules, the most allowed.",
                code="too_many_alerts",
            )
        rule = await store.create_rule(
            org.id, body.name, body.metric, body.window_minutes, body.threshold, body.webhook_url, _ms()
        )
    return 201, rule_json(rule)


async def list_alerts(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    with ops.store_errors():
        return {"data": [rule_json(r) for r in await deps.webhooks.store.list_rules(org.id)]}


async def delete_alert(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    rule_id = request.path_params["alert_id"]
    with ops.store_errors():
        if not await deps.webhooks.store.delete_rule(org.id, rule_id):
            raise _not_found("alert rule", rule_id, org)
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
    by_path: dict[str, dict[str, Handler]] = {}
    for method, path, handler in table:
        by_path.setdefault(PREFIX + path, {})[method] = handler
    return [_route(path, handlers) for path, handlers in by_path.items()]
