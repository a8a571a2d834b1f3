"""Webhooks and alert rules of an organisation: what may be registered, the operations, and their JSON views.

A webhook's secret is stored encrypted with the provider-key cipher (`security.Secrets`) and never shown again,
except a secret the gateway generated (none given), returned once in the answer that created it.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from ..errors import GatewayError
from ..observe import webhook_messages as wm
from ..security import Secrets
from ..stores.base import Org
from .base import Body, check_http_url, fields_json, store_errors

MAX_PER_ORG = 50  # webhooks or alert rules per organisation
MAX_FILTER_KEYS = 32

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=512)]
HttpUrl = Annotated[str, AfterValidator(check_http_url)]

WEBHOOK_FIELDS = ("id", "org_id", "url", "sample_rate", "property_filter", "include_bodies", "created_at")
RULE_FIELDS = (
    "id",
    "org_id",
    "name",
    "metric",
    "window_minutes",
    "threshold",
    "webhook_url",
    "state",
    "last_value",
    "evaluated_at",
    "changed_at",
    "created_at",
)


class WebhookCreate(Body):
    url: HttpUrl
    secret: Secret | None = None
    sample_rate: float = Field(1.0, ge=0.0, le=1.0, allow_inf_nan=False)
    property_filter: dict[str, str] = Field(default_factory=dict)
    include_bodies: bool = False

    @field_validator("property_filter")
    @classmethod
    def _filter(cls, v: dict[str, str]) -> dict[str, str]:
        if len(v) > MAX_FILTER_KEYS:
            raise ValueError(f"at most {MAX_FILTER_KEYS} properties")
        if any(not k or len(k) > 200 or len(x) > 1000 for k, x in v.items()):
            raise ValueError("property names are 1-200 characters, values at most 1000")
        return v


class AlertCreate(Body):
    name: Name
    metric: Literal["cost_usd", "error_rate", "latency_p95_ms", "budget_used_pct"]
    window_minutes: int = Field(ge=1, le=2880)  # the minute rollups cover the last 48 hours
    threshold: float = Field(ge=0, allow_inf_nan=False)
    webhook_url: HttpUrl


def _ms() -> int:
    return int(time.time() * 1000)


def _room(org: Org, count: int, what: str, code: str) -> None:
    if count >= MAX_PER_ORG:
        raise GatewayError(
            409, f"Organisation {org.name!r} has {MAX_PER_ORG} {what}, the most allowed.", code=code
        )


def _not_found(what: str, ref: str, org: Org) -> GatewayError:
    return GatewayError(404, f"No {what} {ref!r} in organisation {org.name!r}.", code="not_found")


def webhook_json(h: Any) -> dict[str, Any]:
    return fields_json(h, WEBHOOK_FIELDS)


def rule_json(r: Any) -> dict[str, Any]:
    return fields_json(r, RULE_FIELDS)


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


# `hooks` is the running webhook dispatcher (`observe/webhooks.py`): its store, and `reload()` after a change.


async def create_webhook(hooks: Any, secrets: Secrets, org: Org, body: WebhookCreate) -> dict[str, Any]:
    with store_errors():
        _room(org, len(await hooks.store.list_webhooks(org.id)), "webhooks", "too_many_webhooks")
        secret = body.secret or wm.new_secret()
        hook = await hooks.store.create_webhook(
            org.id,
            body.url,
            secrets.encrypt(secret),
            body.sample_rate,
            body.property_filter,
            body.include_bodies,
            _ms(),
        )
        await hooks.reload()
    out = webhook_json(hook)
    if body.secret is None:
        out["secret"] = secret  # generated: shown this once
    return out


async def list_webhooks(hooks: Any, org: Org) -> list[dict[str, Any]]:
    with store_errors():
        return [webhook_json(h) for h in await hooks.store.list_webhooks(org.id)]


async def delete_webhook(hooks: Any, org: Org, hook_id: str) -> None:
    with store_errors():
        if not await hooks.store.delete_webhook(org.id, hook_id):
            raise _not_found("webhook", hook_id, org)
        await hooks.reload()


async def list_deliveries(
    hooks: Any, org: Org, hook_id: str, limit: int, offset: int
) -> list[dict[str, Any]]:
    with store_errors():
        hook = await hooks.store.get_webhook(hook_id)
        if hook is None or hook.org_id != org.id:
            raise _not_found("webhook", hook_id, org)
        return [delivery_json(d) for d in await hooks.store.deliveries(hook_id, limit, offset)]


async def create_alert(hooks: Any, org: Org, body: AlertCreate) -> dict[str, Any]:
    store = hooks.store
    with store_errors():
        _room(org, len(await store.list_rules(org.id)), "alert rules", "too_many_alerts")
        rule = await store.create_rule(
            org.id, body.name, body.metric, body.window_minutes, body.threshold, body.webhook_url, _ms()
        )
    return rule_json(rule)


async def list_alerts(hooks: Any, org: Org) -> list[dict[str, Any]]:
    with store_errors():
        return [rule_json(r) for r in await hooks.store.list_rules(org.id)]


async def delete_alert(hooks: Any, org: Org, rule_id: str) -> None:
    with store_errors():
        if not await hooks.store.delete_rule(org.id, rule_id):
            raise _not_found("alert rule", rule_id, org)
