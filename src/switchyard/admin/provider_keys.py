"""Organisations' own provider keys (BYOK): what may be stored, how the secret is sealed, and the operations.

Provider keys are sealed (`seal_provider_secret`) in the form `pipeline.keyring` opens; no secret is ever kept
in the visible `config`, and nothing here decrypts one.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from pydantic import StringConstraints, field_validator

from ..errors import bad_request
from ..pipeline.byok_egress import ByokPolicy
from ..providers.credentials import CredentialError, CredentialSpec
from ..providers.formats import credentials, key_config_names, key_secret_names
from ..providers.registry import Registry
from ..security import Secrets
from ..stores.base import Org, ProviderKey
from .base import Body, NonEmpty, check_http_url, not_found, store_errors

# Provider-key config: the visible names and the secret ones (e.g. Bedrock's AWS credentials, sealed into the
# ciphertext with the key and never stored in `config` or shown) are what each wire format's provider class
# declares (`Provider.credentials`, providers/credentials.py); nothing here names a format.

_PROVIDER_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

ConfigValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16384)]


def secret_config_names() -> frozenset[str]:
    """Config names that are secret parts of some format's credentials (the CLI takes them from the environment)."""
    return key_secret_names()


def _check_config(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if v is None:
        return None
    allowed = key_config_names() | key_secret_names()
    for k in v:
        if k not in allowed:
            raise ValueError(f"unknown config key {k!r}; accepted: {', '.join(sorted(allowed))}")
    base = v.get("base_url")
    if isinstance(base, str):
        try:
            check_http_url(base)
        except ValueError as e:
            raise ValueError(f"base_url {e}") from None
    return v


class ProviderKeyCreate(Body):
    provider: NonEmpty
    key: Secret
    id: str | None = None
    config: dict[str, ConfigValue] | None = None
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v is not None and not _PROVIDER_KEY_ID.match(v):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return v

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_config(v)


class ProviderKeyPatch(Body):
    """`config` is a merge patch: the keys given replace the stored ones, a key set to null is removed."""

    key: Secret | None = None
    config: dict[str, ConfigValue | None] | None = None
    enabled: bool | None = None

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_config(v)


def split_config(spec: CredentialSpec, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(visible config, secret fields) of a key whose format's credentials are `spec`. Secret fields are only
    accepted where the format declares them (those that sign with them)."""
    secret_names = key_secret_names()
    public = {k: v for k, v in config.items() if k not in secret_names}
    secret = {k: v for k, v in config.items() if k in secret_names}
    stray = sorted(set(secret) - spec.secret_fields)
    if stray:
        raise bad_request(
            f"config.{stray[0]}: not a credential field of this provider's keys (accepted: "
            f"{', '.join(sorted(spec.secret_fields)) or 'none'})",
            param=f"config.{stray[0]}",
        )
    return public, secret


def hint(key: str) -> str:
    """The last four characters: enough to tell keys apart, useless for calling the provider. A key shorter than
    12 characters gets no hint (four characters would be too much of it); a service-account JSON gets the end of
    its `private_key_id`."""
    if key.startswith("{"):
        try:
            obj = orjson.loads(key)
        except orjson.JSONDecodeError:
            return ""
        kid = obj.get("private_key_id") if isinstance(obj, dict) else None
        return kid[-4:] if isinstance(kid, str) and len(kid) >= 12 else ""
    return key[-4:] if len(key) >= 12 else ""


def seal_provider_secret(
    secrets: Secrets, spec: CredentialSpec, key: str, fields: dict[str, str] | None = None
) -> str:
    """The ciphertext for a provider key, in the form `pipeline.keyring` opens: the key alone, or with its secret
    config `fields` as the format's credentials spec seals them (Bedrock: `key` is the access key id with
    `config.secret_access_key`, or the secret with `config.access_key_id`; alone it is a Bedrock API key)."""
    try:
        plain = spec.seal(key, fields)
    except CredentialError as e:
        raise bad_request(e.message, param=e.param) from None
    return secrets.encrypt(plain)


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
    spec = credentials(policy.format_of(provider) or "")
    public, secret = split_config(spec, body.config or {})
    policy.check_key(provider, public, body.key)  # where the key may send requests (400 naming the field)
    ciphertext = seal_provider_secret(secrets, spec, body.key, secret)
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
    spec = credentials(policy.format_of(current.provider) or "")
    public_patch, secret = split_config(spec, body.config or {})
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
        ciphertext = seal_provider_secret(secrets, spec, body.key, secret)
        new_hint = hint(body.key)
    with store_errors("provider key"):
        return await store.update_provider_key(
            org.id, key_id, ciphertext=ciphertext, hint=new_hint, config=config, enabled=body.enabled
        )


async def delete_provider_key(store: Any, org: Org, key_id: str) -> None:
    await get_provider_key(store, org, key_id)  # a 404 naming the organisation when it is not there
    with store_errors("provider key"):
        await store.delete_provider_key(org.id, key_id)


def provider_key_json(pk: ProviderKey) -> dict[str, Any]:
    return {**pk.public(), "org_id": pk.org_id}
