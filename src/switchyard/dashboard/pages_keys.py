"""Keys and money: gateway keys, the organisation's provider keys, credits.

Everyone signed in sees their organisation's keys (prefix and name only), provider keys (provider and the last four
characters) and credits. Changing anything needs the admin key: the forms go through the same operations as the
admin API and the CLI (`admin/`), so they validate and fail the same way. A new gateway key is shown once,
in the answer to the form that created it; provider keys are never shown back.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..admin import credits as admin_credits
from ..admin.base import parse, store_errors
from ..admin.credits import CreditGrant
from ..admin.keys import (
    KeyCreate,
    KeyPatch,
    create_gateway_key,
    get_gateway_key,
    revoke_gateway_key,
    update_gateway_key,
)
from ..admin.limits import parse_limit_spec
from ..admin.provider_keys import (
    ProviderKeyCreate,
    ProviderKeyPatch,
    create_provider_key,
    delete_provider_key,
    list_provider_keys,
    update_provider_key,
)
from ..errors import GatewayError, bad_request
from .guard import Ctx, Forbidden
from .render import usd

LEDGER_ROWS = 50


def _admin(ctx: Ctx):
    viewer = ctx.viewer
    assert viewer is not None
    if not viewer.admin:
        raise Forbidden("Changing keys and credits needs the admin key.")
    return viewer


def _models(text: str) -> list[str] | None:
    items = [m.strip() for m in text.replace("\n", ",").split(",") if m.strip()]
    return items or None


def _limits(text: str) -> list[dict[str, Any]]:
    return [parse_limit_spec(line.strip()).as_dict() for line in text.splitlines() if line.strip()]


async def _changed(ctx: Ctx) -> None:
    ctx.deps.auth.invalidate()
    await ctx.deps.invalidation.publish()


async def keys_page(
    ctx: Ctx,
    *,
    status: int = 200,
    new_key: str | None = None,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    store = ctx.deps.store
    with store_errors():
        keys = await store.list_keys(viewer.org.id)
        balance = await store.credit_balance(viewer.org.id)
        ledger = await store.credit_ledger(viewer.org.id, limit=LEDGER_ROWS)
    provider_keys = await list_provider_keys(store, viewer.org)
    keys = sorted(keys, key=lambda k: (not k.active, -k.created_at))
    return ctx.render(
        "keys.html",
        status=status,
        active="keys",
        keys=keys,
        provider_keys=provider_keys,
        balance=balance,
        ledger=ledger,
        new_key=new_key,
        notice=notice,
        error=error,
        providers=sorted(ctx.deps.registry.providers),
    )


async def _act(ctx: Ctx, action: Any) -> Response:
    """Run a change; a refused one re-renders the page with the reason (the form's secrets are not echoed)."""
    try:
        result = await action()
    except GatewayError as e:
        if e.status == 404:
            raise
        return await keys_page(ctx, status=e.status, error=e.message)
    await _changed(ctx)
    if isinstance(result, tuple):
        return await keys_page(ctx, new_key=result[0], notice=result[1])
    return await keys_page(ctx, notice=result)


async def _own_key(ctx: Ctx, key_id: str):
    rec = await get_gateway_key(ctx.deps.store, key_id)
    if ctx.viewer is None or rec.org_id != ctx.viewer.org.id:
        raise GatewayError(404, "No gateway key with that id in this organisation.", code="not_found")
    return rec


async def create_key(ctx: Ctx) -> Response:
    viewer = _admin(ctx)
    f = ctx.form

    async def run():
        body = parse(
            KeyCreate,
            {
                "name": f.get("name") or None,
                "allowed_models": _models(f.get("allowed_models", "")),
                "limits": _limits(f.get("limits", "")) or None,
            },
        )
        key, rec = await create_gateway_key(ctx.deps.store, ctx.deps.secrets, viewer.org, body)
        return key, f"Created key {rec.name or rec.prefix}. Copy it now: it is not shown again."

    return await _act(ctx, run)


async def update_key(ctx: Ctx) -> Response:
    _admin(ctx)
    f = ctx.form

    async def run():
        rec = await _own_key(ctx, ctx.request.path_params["key_id"])
        body = parse(
            KeyPatch,
            {
                "allowed_models": _models(f.get("allowed_models", "")) or [],
                "limits": _limits(f.get("limits", "")),
            },
        )
        rec = await update_gateway_key(ctx.deps.store, rec.id, body)
        return f"Saved key {rec.name or rec.prefix}."

    return await _act(ctx, run)


async def revoke_key(ctx: Ctx) -> Response:
    _admin(ctx)

    async def run():
        rec = await _own_key(ctx, ctx.request.path_params["key_id"])
        rec = await revoke_gateway_key(ctx.deps.store, rec.id)
        return f"Revoked key {rec.name or rec.prefix}. Calls with it are refused from now on."

    return await _act(ctx, run)


async def add_provider_key(ctx: Ctx) -> Response:
    viewer = _admin(ctx)
    f = ctx.form

    async def run():
        config = {k: f[k].strip() for k in ("base_url", "region", "endpoint") if f.get(k, "").strip()}
        body = parse(
            ProviderKeyCreate,
            {
                "provider": f.get("provider", ""),
                "key": f.get("key", ""),
                "id": f.get("id") or None,
                "config": config or None,
            },
        )
        pk = await create_provider_key(
            ctx.deps.store,
            ctx.deps.secrets,
            ctx.deps.registry,
            viewer.org,
            body,
            policy=ctx.deps.keyrings.policy,
        )
        return f"Added {pk.provider} key {pk.id}."

    return await _act(ctx, run)


async def rotate_provider_key(ctx: Ctx) -> Response:
    viewer = _admin(ctx)

    async def run():
        body = parse(ProviderKeyPatch, {"key": ctx.form.get("key", "")})
        pk = await update_provider_key(
            ctx.deps.store,
            ctx.deps.secrets,
            viewer.org,
            ctx.request.path_params["key_id"],
            body,
            policy=ctx.deps.keyrings.policy,
        )
        return f"Rotated {pk.provider} key {pk.id}."

    return await _act(ctx, run)


async def remove_provider_key(ctx: Ctx) -> Response:
    viewer = _admin(ctx)

    async def run():
        key_id = ctx.request.path_params["key_id"]
        await delete_provider_key(ctx.deps.store, viewer.org, key_id)
        return f"Removed provider key {key_id}."

    return await _act(ctx, run)


async def grant_credits(ctx: Ctx) -> Response:
    viewer = _admin(ctx)

    async def run():
        try:
            amount = float(ctx.form.get("amount_usd", ""))
        except ValueError:
            raise bad_request("amount_usd: must be a number of US dollars") from None
        body = parse(CreditGrant, {"amount_usd": amount, "note": ctx.form.get("note") or None})
        await admin_credits.grant_credits(ctx.deps.store, viewer.org, body)
        return f"Added {usd(amount)} of credits."

    return await _act(ctx, run)
