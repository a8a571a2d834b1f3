"""The admin HTTP API (`/admin/v1/...`): organisations, gateway keys, BYOK provider keys, credits.

Off unless an admin key is configured (`admin.key`, else `$SWITCHYARD_ADMIN_KEY`): then every route answers 404
saying how to enable it, so a default install exposes no management surface. Callers present the key as
`Authorization: Bearer <admin key>` (compared in constant time). Answers are JSON; errors use OpenAI's error
shape. Nothing here ever returns a secret except a new gateway key, once, in the answer that created it.

Changes reach this process's key cache at once (`auth.invalidate()`); other processes and replicas drop theirs
when the change is published on Redis (`pipeline/invalidation.py`, with `redis.url` set), and in any case
through the store's `keys_revision()` fingerprint within a second.
"""

from __future__ import annotations

import hmac
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..admin import credits, keys, orgs
from ..admin import provider_keys as pkeys
from ..admin.base import page, parse, store_errors
from ..admin.credits import CreditGrant, balance_json, ledger_json
from ..admin.keys import KeyCreate, KeyPatch, key_json
from ..admin.orgs import OrgCreate, OrgPatch, org_json
from ..admin.provider_keys import ProviderKeyCreate, ProviderKeyPatch, provider_key_json
from ..errors import GatewayError, bad_request, redact
from ..stores.base import Org

log = logging.getLogger("switchyard.admin")

PREFIX = "/admin/v1"
MAX_BODY_BYTES = 1024 * 1024

Result = Any | tuple[int, Any]
Handler = Callable[[Request, Any], Awaitable[Result]]


def _error(e: GatewayError) -> Response:
    return Response(e.openai_body(), status_code=e.status, media_type="application/json", headers=e.headers)


def authorize(configured: str | None, authorization: str | None) -> None:
    """Raise unless `authorization` carries the configured admin key."""
    if not configured:
        raise GatewayError(
            404,
            "The admin API is disabled. Enable it by setting admin.key in the config file or "
            "SWITCHYARD_ADMIN_KEY in the gateway's environment.",
            code="admin_api_disabled",
        )
    value = (authorization or "").strip()
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GatewayError(
            401,
            "Missing admin key. Send it as 'Authorization: Bearer <admin key>'.",
            code="missing_admin_key",
            headers={"www-authenticate": "Bearer"},
        )
    if not hmac.compare_digest(token.strip().encode(), configured.encode()):
        raise GatewayError(
            401, "Invalid admin key.", code="invalid_admin_key", headers={"www-authenticate": "Bearer"}
        )


def admin_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, run, encode: a handler returns a JSON-able value or (status, value)."""

    async def endpoint(request: Request) -> Response:
        deps = request.app.state.deps
        try:
            authorize(deps.settings.admin.key, request.headers.get("authorization"))
            for name, value in request.path_params.items():  # PostgreSQL text cannot hold NUL: never a 500
                if "\x00" in value or len(value) > 256:
                    raise GatewayError(
                        404,
                        f"No such {name}: ids and names never hold NUL or exceed 256 characters.",
                        code="not_found",
                    )
            result = await handler(request, deps)
        except GatewayError as e:
            return _error(e)
        except Exception as e:  # an answer in the caller's format, and a log line without secrets
            log.error(
                "admin %s %s failed:\n%s",
                request.method,
                request.url.path,
                redact("".join(traceback.format_exception(e))),
            )
            return _error(
                GatewayError(
                    500, "The admin request failed inside the gateway; see its log.", code="internal_error"
                )
            )
        status, payload = result if isinstance(result, tuple) else (200, result)
        return Response(orjson.dumps(payload), status_code=status, media_type="application/json")

    endpoint.__name__ = handler.__name__
    return endpoint


async def _body(request: Request) -> Any:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise GatewayError(
                413, f"The request body exceeds {MAX_BODY_BYTES} bytes.", code="body_too_large"
            )
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("The request body is not valid JSON.", code="invalid_json") from None


async def _org(request: Request, deps: Any) -> Org:
    return await orgs.resolve_org(deps.store, request.path_params["org"])


# -- organisations ---------------------------------------------------------------------------------


async def create_org(request: Request, deps: Any) -> Result:
    org = await orgs.create_org(deps.store, parse(OrgCreate, await _body(request)))
    return 201, org_json(org)


async def list_orgs(request: Request, deps: Any) -> Result:
    with store_errors():
        orgs = await deps.store.list_orgs()
    return {"data": [org_json(o) for o in orgs]}


async def get_org(request: Request, deps: Any) -> Result:
    return org_json(await _org(request, deps))


async def update_org(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    org = await orgs.update_org(deps.store, org, parse(OrgPatch, await _body(request)))
    deps.auth.invalidate()
    await deps.invalidation.publish()
    return org_json(org)


# -- gateway keys ----------------------------------------------------------------------------------


async def create_key(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    key, rec = await keys.create_gateway_key(
        deps.store, deps.secrets, org, parse(KeyCreate, await _body(request))
    )
    deps.auth.invalidate()
    await deps.invalidation.publish()
    return 201, {**key_json(rec), "key": key}


async def list_keys(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    with store_errors():
        keys = await deps.store.list_keys(org.id)
    return {"data": [key_json(k) for k in keys]}


async def get_key(request: Request, deps: Any) -> Result:
    return key_json(await keys.get_gateway_key(deps.store, request.path_params["key_id"]))


async def update_key(request: Request, deps: Any) -> Result:
    body = parse(KeyPatch, await _body(request))
    rec = await keys.update_gateway_key(deps.store, request.path_params["key_id"], body)
    deps.auth.invalidate()
    await deps.invalidation.publish()
    return key_json(rec)


async def revoke_key(request: Request, deps: Any) -> Result:
    rec = await keys.revoke_gateway_key(deps.store, request.path_params["key_id"])
    deps.auth.invalidate()
    await deps.invalidation.publish()
    return key_json(rec)


# -- provider keys ---------------------------------------------------------------------------------


async def create_provider_key(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    body = parse(ProviderKeyCreate, await _body(request))
    pk = await pkeys.create_provider_key(
        deps.store, deps.secrets, deps.registry, org, body, policy=deps.keyrings.policy
    )
    deps.auth.invalidate()
    await deps.invalidation.publish()
    return 201, provider_key_json(pk)


async def list_provider_keys(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    return {"data": [provider_key_json(pk) for pk in await pkeys.list_provider_keys(deps.store, org)]}


async def get_provider_key(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    return provider_key_json(await pkeys.get_provider_key(deps.store, org, request.path_params["key_id"]))


async def update_provider_key(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    body = parse(ProviderKeyPatch, await _body(request))
    pk = await pkeys.update_provider_key(
        deps.store, deps.secrets, org, request.path_params["key_id"], body, policy=deps.keyrings.policy
    )
    deps.auth.invalidate()
    await deps.invalidation.publish()
    return provider_key_json(pk)


async def delete_provider_key(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    key_id = request.path_params["key_id"]
    await pkeys.delete_provider_key(deps.store, org, key_id)
    deps.auth.invalidate()
    await deps.invalidation.publish()
    return {"id": key_id, "deleted": True}


# -- credits ---------------------------------------------------------------------------------------


async def add_credits(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    entry = await credits.grant_credits(deps.store, org, parse(CreditGrant, await _body(request)))
    with store_errors():
        balance = await deps.store.credit_balance(org.id)
    return 201, {"entry": ledger_json(entry), "balance": balance_json(balance, org)}


async def show_credits(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    with store_errors():
        balance = await deps.store.credit_balance(org.id)
    return balance_json(balance, org)


async def credit_ledger(request: Request, deps: Any) -> Result:
    org = await _org(request, deps)
    limit, offset = page(request.query_params.get("limit"), request.query_params.get("offset"))
    with store_errors():
        entries = await deps.store.credit_ledger(org.id, limit=limit, offset=offset)
    return {"data": [ledger_json(e) for e in entries], "limit": limit, "offset": offset}


# -- health ----------------------------------------------------------------------------------------


async def health(request: Request, deps: Any) -> Result:
    return deps.health.snapshot()


def admin_routes() -> list[Route]:
    table: list[tuple[str, str, Handler]] = [
        ("GET", "/health", health),
        ("POST", "/orgs", create_org),
        ("GET", "/orgs", list_orgs),
        ("GET", "/orgs/{org}", get_org),
        ("PATCH", "/orgs/{org}", update_org),
        ("POST", "/orgs/{org}/keys", create_key),
        ("GET", "/orgs/{org}/keys", list_keys),
        ("GET", "/keys/{key_id}", get_key),
        ("PATCH", "/keys/{key_id}", update_key),
        ("POST", "/keys/{key_id}/revoke", revoke_key),
        ("POST", "/orgs/{org}/provider-keys", create_provider_key),
        ("GET", "/orgs/{org}/provider-keys", list_provider_keys),
        ("GET", "/orgs/{org}/provider-keys/{key_id}", get_provider_key),
        ("PATCH", "/orgs/{org}/provider-keys/{key_id}", update_provider_key),
        ("DELETE", "/orgs/{org}/provider-keys/{key_id}", delete_provider_key),
        ("POST", "/orgs/{org}/credits", add_credits),
        ("GET", "/orgs/{org}/credits", show_credits),
        ("GET", "/orgs/{org}/credits/ledger", credit_ledger),
    ]
    return routes(table)


def routes(table: list[tuple[str, str, Handler]]) -> list[Route]:
    """(method, path under PREFIX, handler) rows → one route per path."""
    by_path: dict[str, dict[str, Handler]] = {}
    for method, path, handler in table:
        by_path.setdefault(PREFIX + path, {})[method] = handler
    return [_route(path, handlers) for path, handlers in by_path.items()]


def _route(path: str, handlers: dict[str, Handler]) -> Route:
    """One Starlette route per path, dispatching on the method (so a wrong method answers 405, not 404)."""
    endpoints = {m: admin_endpoint(h) for m, h in handlers.items()}

    async def dispatch(request: Request) -> Response:
        return await endpoints[request.method if request.method != "HEAD" else "GET"](request)

    return Route(path, dispatch, methods=list(handlers))
