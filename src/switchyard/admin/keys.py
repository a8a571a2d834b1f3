"""Gateway keys (the keys callers present): created (shown once), imported, restricted, revoked. Only a key's
hash is ever stored."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from ..errors import GatewayError
from ..security import Secrets, display_prefix, looks_like_gateway_key, new_gateway_key
from ..stores.base import GatewayKey, Org
from .base import Body, NonEmpty, not_found, store_errors
from .limits import MAX_LIMITS, LimitIn, limits_json, rules

MAX_ALLOWED_MODELS = 1024


class KeyCreate(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None = None
    allowed_models: Annotated[list[NonEmpty], Field(max_length=MAX_ALLOWED_MODELS)] | None = None
    limits: Annotated[list[LimitIn], Field(max_length=MAX_LIMITS)] | None = None

    @field_validator("allowed_models")
    @classmethod
    def _dedupe(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else list(dict.fromkeys(v))


class KeyPatch(KeyCreate):
    pass


async def create_gateway_key(
    store: Any, secrets: Secrets, org: Org, body: KeyCreate
) -> tuple[str, GatewayKey]:
    """(the key in full — shown once, never stored — and its record)."""
    key = new_gateway_key()
    with store_errors("organisation"):
        rec = await store.create_key(org.id, secrets.hash_key(key), display_prefix(key), body.name or None)
        if body.allowed_models or body.limits:
            try:
                rec = await store.update_key(
                    rec.id, allowed_models=body.allowed_models, limits=[r.rule() for r in body.limits or ()]
                )
            except BaseException:
                # never leave behind a key without the restrictions it was created with
                with contextlib.suppress(Exception):
                    await store.revoke_key(rec.id)
                raise
    return key, rec


async def import_gateway_key(
    store: Any, secrets: Secrets, org: Org, key: str, name: str | None
) -> GatewayKey:
    """Register a key the caller already has (a Helicone key in their code): stored only as its hash, like every
    key. Only shapes `security.looks_like_gateway_key` accepts can authenticate, so others are refused here."""
    key = key.strip()
    if not looks_like_gateway_key(key):
        raise GatewayError(
            400,
            "Not an importable key: expected a Helicone key (sk-helicone-xxxxxxx-xxxxxxx-xxxxxxx-xxxxxxx, "
            "pk-helicone-…, with -eu/-cp/-rl variants) or a Switchyard key (sk-sy-…).",
            code="invalid_request",
        )
    digest = secrets.hash_key(key)
    with store_errors("organisation"):
        if await store.find_key_by_hash(digest) is not None:
            raise GatewayError(
                409, "This key is already registered (revoke it first to import it again).", code="conflict"
            )
        return await store.create_key(org.id, digest, display_prefix(key), name or None)


async def get_gateway_key(store: Any, key_id: str) -> GatewayKey:
    with store_errors("gateway key"):
        rec = await store.get_key(key_id)
    if rec is None:
        raise not_found(f"No gateway key with id {key_id!r}.")
    return rec


async def update_gateway_key(store: Any, key_id: str, body: KeyPatch) -> GatewayKey:
    with store_errors("gateway key"):
        return await store.update_key(
            key_id, name=body.name or None, allowed_models=body.allowed_models, limits=rules(body.limits)
        )


async def revoke_gateway_key(store: Any, key_id: str) -> GatewayKey:
    with store_errors("gateway key"):
        return await store.revoke_key(key_id)


def key_json(key: GatewayKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "org_id": key.org_id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "active": key.active,
        "allowed_models": list(key.allowed_models),
        "limits": limits_json(key.limits),
    }
