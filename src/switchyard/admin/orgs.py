"""Organisations: what may be created or changed, and how an organisation is found by id or name."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from ..stores.base import Org
from .base import Body, not_found, store_errors
from .limits import MAX_LIMITS, LimitIn, limits_json, rules


class OrgCreate(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class OrgPatch(Body):
    credits_enabled: bool | None = None
    allow_caller_provider_keys: bool | None = None
    limits: Annotated[list[LimitIn], Field(max_length=MAX_LIMITS)] | None = None


async def resolve_org(store: Any, ref: str) -> Org:
    """An organisation by id, else by name."""
    with store_errors():
        org = await store.get_org(ref) or await store.get_org_by_name(ref)
    if org is None:
        raise not_found(f"No organisation with id or name {ref!r}.")
    return org


async def create_org(store: Any, body: OrgCreate) -> Org:
    with store_errors():
        return await store.create_org(body.name)


async def update_org(store: Any, org: Org, body: OrgPatch) -> Org:
    with store_errors("organisation"):
        return await store.update_org(
            org.id,
            credits_enabled=body.credits_enabled,
            limits=rules(body.limits),
            allow_caller_provider_keys=body.allow_caller_provider_keys,
        )


def org_json(org: Org) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "created_at": org.created_at,
        "credits_enabled": org.credits_enabled,
        "limits": limits_json(org.limits),
        "allow_caller_provider_keys": org.allow_caller_provider_keys,
    }
