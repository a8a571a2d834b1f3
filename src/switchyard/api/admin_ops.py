"""The admin operations shared by the HTTP admin API and the CLI: one code path from validated input to the
store, so both front ends behave (and fail) the same way. Store errors become `GatewayError`s: unknown org or
key → 404, duplicate → 409, store down → 503.

Provider keys are sealed (`seal_provider_secret`) in the form `pipeline.keyring` opens; no secret is ever kept
in the visible `config`, and nothing here decrypts one.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson

from ..errors import GatewayError, bad_request
from ..pipeline.byok_egress import ByokPolicy
from ..providers.registry import Registry
from ..security import Secrets, display_prefix, looks_like_gateway_key, new_gateway_key
from ..stores.base import Conflict, GatewayKey, LedgerEntry, NotFound, Org, ProviderKey, StoreUnavailable
from .admin_models import (
    CreditGrant,
    KeyCreate,
    KeyPatch,
    OrgCreate,
    OrgPatch,
    ProviderKeyCreate,
    ProviderKeyPatch,
    hint,
    not_found,
    split_config,
)

MAX_LEDGER_PAGE = 1000


@contextlib.contextmanager
def store_errors(what: str = ""):
    """Translate the store's exceptions into answers a caller can act on."""
    try:
        yield
    except NotFound as e:
        raise not_found(str(e) or f"{what} not found") from None
    except Conflict as e:
        raise GatewayError(409, str(e), code="conflict") from None
    except ValueError as e:  # the store's own input checks (e.g. an amount below one micro-dollar)
        raise bad_request(str(e)) from None
    except StoreUnavailable:
        raise GatewayError(
            503, "The gateway's store is unavailable; try again shortly.", code="store_unavailable"
        ) from None


# -- sealing ---------------------------------------------------------------------------------------


def seal_provider_secret(
    secrets: Secrets, provider: str, key: str, fields: dict[str, str] | None = None
) -> str:
    """The ciphertext for a provider key, in the form `pipeline.keyring` opens.

    Bedrock's SigV4 credentials are sealed together as {"access_key_id", "secret_access_key", "session_token"}:
    `key` is the access key id with `config.secret_access_key`, or the secret with `config.access_key_id`. A
    Bedrock key with neither is a Bedrock API key (bearer), sealed alone like every other provider's key.
    """
    if not fields:
        return secrets.encrypt(key)
    if provider != "bedrock":  # split_config already refused them; belt and braces for direct callers
        raise bad_request(
            f"config: secret fields are only accepted for bedrock, not {provider}", param="config"
        )
    access, secret = fields.get("access_key_id"), fields.get("secret_access_key")
    if access and secret:
        raise bad_request(
            "config.access_key_id: give access_key_id or secret_access_key, not both; 'key' holds "
            "the other half of the pair",
            param="config.access_key_id",
        )
    if not access and not secret:
        raise bad_request(
            "config.session_token: needs config.secret_access_key (with the access key id as "
            "'key') or config.access_key_id (with the secret as 'key')",
            param="config.session_token",
        )
    parts = {"access_key_id": access or key, "secret_access_key": secret or key}
    if fields.get("session_token"):
        parts["session_token"] = fields["session_token"]
    return secrets.encrypt(orjson.dumps(parts).decode())


# -- organisations ---------------------------------------------------------------------------------


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
    limits = None if body.limits is None else [r.rule() for r in body.limits]
    with store_errors("organisation"):
        return await store.update_org(
            org.id,
            credits_enabled=body.credits_enabled,
            limits=limits,
            allow_caller_provider_keys=body.allow_caller_provider_keys,
        )


# -- gateway keys ----------------------------------------------------------------------------------


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
    limits = None if body.limits is None else [r.rule() for r in body.limits]
    with store_errors("gateway key"):
        return await store.update_key(
            key_id, name=body.name or None, allowed_models=body.allowed_models, limits=limits
        )


async def revoke_gateway_key(store: Any, key_id: str) -> GatewayKey:
    with store_errors("gateway key"):
        return await store.revoke_key(key_id)


# -- provider keys (BYOK) --------------------------------------------------------------------------


def canonical_provider(registry: Registry, name: str) -> str:
    info = registry.provider(name)
    if info is None:
        known = ", ".join(sorted(registry.providers))
        raise bad_request(f"provider: unknown provider {name!r}; known: {known}", param="provider")
    return info.id


async def create_provider_key(
    store: Any, secrets: Secrets, registry: Registry, org: Org, body: ProviderKeyCreate, *, policy: ByokPolicy
) -> ProviderKey:
    provider = canonical_provider(registry, body.provider)
    public, secret = split_config(provider, body.config or {})
    policy.check_key(provider, public, body.key)  # where the key may send requests (400 naming the field)
    ciphertext = seal_provider_secret(secrets, provider, body.key, secret)
    with store_errors("organisation"):
        return await store.create_provider_key(
            org.id, provider, ciphertext, hint(body.key), key_id=body.id, config=public, enabled=body.enabled
        )


async def get_provider_key(store: Any, org: Org, key_id: str) -> ProviderKey:
    with store_errors("provider key"):
        pk = await store.get_provider_key(org.id, key_id)
    if pk is None:
        raise not_found(f"No provider key {key_id!r} in organisation {org.name!r}.")
    return pk


async def list_provider_keys(store: Any, org: Org) -> list[ProviderKey]:
    with store_errors():
        return await store.list_provider_keys(org.id)


async def update_provider_key(
    store: Any, secrets: Secrets, org: Org, key_id: str, body: ProviderKeyPatch, *, policy: ByokPolicy
) -> ProviderKey:
    """Visible config is merge-patched (null removes a field). Credentials are replaced as a whole: a new `key`
    comes with its secret config fields, and secret fields never come without a `key` (nothing secret is ever
    read back to be merged)."""
    current = await get_provider_key(store, org, key_id)
    public_patch, secret = split_config(current.provider, body.config or {})
    if secret and body.key is None:
        name = sorted(secret)[0]
        raise bad_request(
            f"config.{name}: credentials are replaced as a whole; send 'key' with it", param=f"config.{name}"
        )
    config = None
    if body.config is not None:
        config = {k: v for k, v in {**current.config, **public_patch}.items() if v is not None}
    if config is not None or body.key is not None:  # disabling a key the policy now refuses stays possible
        policy.check_key(current.provider, current.config if config is None else config, body.key)
    ciphertext = new_hint = None
    if body.key is not None:
        ciphertext = seal_provider_secret(secrets, current.provider, body.key, secret)
        new_hint = hint(body.key)
    with store_errors("provider key"):
        return await store.update_provider_key(
            org.id, key_id, ciphertext=ciphertext, hint=new_hint, config=config, enabled=body.enabled
        )


async def delete_provider_key(store: Any, org: Org, key_id: str) -> None:
    await get_provider_key(store, org, key_id)  # a 404 naming the organisation when it is not there
    with store_errors("provider key"):
        await store.delete_provider_key(org.id, key_id)


# -- credits ---------------------------------------------------------------------------------------


async def grant_credits(store: Any, org: Org, body: CreditGrant) -> LedgerEntry:
    with store_errors("organisation"):
        return await store.add_credits(org.id, body.amount_usd, body.note or None)


def page(limit: Any, offset: Any) -> tuple[int, int]:
    """Validated (limit, offset) for the ledger; accepts the strings of a query string or CLI argument."""
    out = []
    for name, value, default, lo, hi in (
        ("limit", limit, 100, 1, MAX_LEDGER_PAGE),
        ("offset", offset, 0, 0, None),
    ):
        if value is None or value == "":
            out.append(default)
            continue
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise bad_request(f"{name}: must be an integer", param=name) from None
        if n < lo or (hi is not None and n > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise bad_request(f"{name}: must be {bound}", param=name)
        out.append(n)
    return out[0], out[1]
