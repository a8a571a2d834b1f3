"""An organisation's own provider keys (BYOK), decrypted once and held in memory for routing.

The store keeps provider keys encrypted (AES-GCM, `security.Secrets`); decrypting on every request would put a
database read and an AEAD open on the hot path, so each organisation's keys are loaded once into a `Keyring`
and dropped whenever the store's revision changes (the authenticator's 1 Hz poll, and pub/sub with Redis).

A decrypted secret is either the key itself or, for formats with several secret parts (AWS access key pairs),
a JSON object of the parts; the key's wire format opens it (`Provider.credentials`, `providers/credentials.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..providers.formats import credentials
from ..security import Secrets
from ..stores.base import ProviderKey, StoreUnavailable
from .byok_egress import ByokPolicy

DEFAULT_POLICY = ByokPolicy(None, None)  # built-in allow-lists only (immutable apart from its memo)

log = logging.getLogger("switchyard.keyring")


@dataclass(frozen=True, slots=True)
class OrgKey:
    """One usable BYOK key: what a Target needs, secrets included (never logged: repr hides them)."""

    id: str
    provider: str
    api_key: str = field(repr=False)
    base_url: str | None
    config: Mapping[str, Any] = field(repr=False)
    auth: str | None = None  # override of the provider's auth scheme (a Bedrock API key is a bearer token)
    policy: ByokPolicy = field(default=DEFAULT_POLICY, repr=False, compare=False)  # where the key may send


@dataclass(frozen=True, slots=True)
class Keyring:
    org_id: str
    version: int
    by_provider: Mapping[str, tuple[OrgKey, ...]]

    def get(self, provider: str, key_id: str) -> OrgKey | None:
        for k in self.by_provider.get(provider, ()):
            if k.id == key_id:
                return k
        return None


EMPTY = Keyring("", 0, {})


def org_key(pk: ProviderKey, secrets: Secrets, policy: ByokPolicy = DEFAULT_POLICY) -> OrgKey:
    """A stored key opened as its wire format's credentials spec says (the provider id's format, from the
    policy's registry; without one — tests — the provider id is taken as the format's name)."""
    spec = credentials(policy.format_of(pk.provider) or pk.provider)
    opened = spec.open(secrets.decrypt(pk.ciphertext))
    # visible config names → Target.config (base_url goes to Target.base_url); secret parts alongside
    config: dict[str, Any] = {
        k: v for k, v in pk.config.items() if k in spec.config and k != "base_url" and v not in (None, "")
    }
    config.update(opened.secret_config)
    base_url = pk.config.get("base_url") or None
    return OrgKey(
        pk.id,
        pk.provider,
        opened.api_key,
        base_url.rstrip("/") if base_url else None,
        config,
        opened.auth,
        policy,
    )


class Keyrings:
    """Per-organisation keyrings, loaded on first use, dropped by `invalidate()`."""

    def __init__(self, store: Any, secrets: Secrets, policy: ByokPolicy = DEFAULT_POLICY) -> None:
        self._store = store
        self._secrets = secrets
        self.policy = policy  # also what the admin API and the dashboard check new keys against
        self._rings: dict[str, Keyring] = {}
        self._version = 0
        self._loading: dict[str, asyncio.Future[Keyring]] = {}

    def invalidate(self) -> None:
        self._version += 1
        self._rings.clear()

    async def get(self, org_id: str) -> Keyring:
        ring = self._rings.get(org_id)
        if ring is not None:
            return ring
        pending = self._loading.get(org_id)
        if pending is not None:  # one load per org however many requests arrive at once
            return await asyncio.shield(pending)
        fut: asyncio.Future[Keyring] = asyncio.get_running_loop().create_future()
        self._loading[org_id] = fut
        version = self._version
        try:
            ring = await self._load(org_id, version)
            if (
                version == self._version and ring.version >= 0
            ):  # not invalidated meanwhile, nor a store outage
                self._rings[org_id] = ring
            fut.set_result(ring)
            return ring
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._loading.pop(org_id, None)

    async def _load(self, org_id: str, version: int) -> Keyring:
        try:
            keys = await self._store.list_provider_keys(org_id)
        except StoreUnavailable:
            # No BYOK keys known right now: route on the gateway's own keys rather than failing the request.
            log.warning("provider keys of org %s unavailable (store down); routing without BYOK", org_id)
            return Keyring(org_id, -1, {})
        by: dict[str, list[OrgKey]] = {}
        for pk in keys:
            if not pk.enabled:
                continue
            try:
                by.setdefault(pk.provider, []).append(org_key(pk, self._secrets, self.policy))
            except (
                Exception
            ):  # a key encrypted under another master secret: skip it, say which (never the secret)
                log.error(
                    "provider key %s of org %s cannot be decrypted with this master key; skipped",
                    pk.id,
                    org_id,
                )
        return Keyring(org_id, version, {p: tuple(v) for p, v in by.items()})
