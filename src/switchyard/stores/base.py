"""Store contracts. Every backend (SQLite and PostgreSQL through `sql.SQLStore`) satisfies these; one
contract test suite runs them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class StoreUnavailable(Exception):
    """The store could not be reached or failed transiently; callers may retry later."""


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


@dataclass(frozen=True, slots=True)
class LimitRule:
    """One limit: at most `limit` of `metric` per sliding `window_seconds`, counted per `per`.

    metric: "requests" | "tokens" | "usd". per: "key" (the gateway key), "org", "user" (Helicone-User-Id) or
    "property:<name>" (the value of Helicone-Property-<name>). A USD rule is a budget: checked before the call
    with a worst-case reservation, settled with the real cost after it.
    """

    metric: str
    limit: float
    window_seconds: int
    per: str = "key"

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "limit": self.limit,
            "window_seconds": self.window_seconds,
            "per": self.per,
        }


@dataclass(frozen=True, slots=True)
class Org:
    id: str
    name: str
    created_at: int
    credits_enabled: bool = False
    limits: tuple[LimitRule, ...] = ()
    # Helicone proxy style: a caller's own provider key (Authorization / x-api-key beside Helicone-Auth) is used
    # for that one request (pipeline/caller_keys.py). Off unless the operator switches it on.
    allow_caller_provider_keys: bool = False


@dataclass(frozen=True, slots=True)
class GatewayKey:
    id: str
    org_id: str
    name: str | None
    prefix: str
    created_at: int
    revoked_at: int | None
    allowed_models: tuple[str, ...] = ()  # empty: every model; else registry ids or `model/provider` strings
    limits: tuple[LimitRule, ...] = ()

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class ProviderKey:
    """An organisation's own key for a provider (BYOK). `ciphertext` is the AES-GCM-encrypted secret; it is never
    shown — `hint` (the last four characters) identifies the key to humans."""

    id: str  # addressable as `model/provider/<id>`; user-chosen or generated
    org_id: str
    provider: str  # registry provider id
    hint: str
    config: dict[str, Any]  # region, resource, deployment, api_version, base_url, ...
    enabled: bool
    created_at: int
    updated_at: int
    ciphertext: str = field(repr=False, default="")

    def public(self) -> dict[str, Any]:
        """What the admin API and CLI may show."""
        return {
            "id": self.id,
            "provider": self.provider,
            "hint": self.hint,
            "config": self.config,
            "enabled": self.enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class CreditBalance:
    org_id: str
    balance_usd: float  # settled balance (grants minus charges)
    reserved_usd: float  # held by in-flight PTB attempts

    @property
    def available_usd(self) -> float:
        return self.balance_usd - self.reserved_usd


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: str
    org_id: str
    created_at: int
    kind: str  # "grant" | "charge" | "adjust"
    amount_usd: float  # signed: grants positive, charges negative
    request_id: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """A query over one organisation's request log (see `stores/filters.py` for the filter grammar)."""

    org_id: str
    filter: Any = "all"
    sort: Sequence[tuple[str, str]] = (("created_at", "desc"),)
    limit: int = 100
    offset: int = 0
    is_cached: bool | None = None
    include_bodies: bool = True
    max_body_chars: int | None = None  # bodies per page; later rows come without them (`bodies_omitted`)


class Store(Protocol):
    async def migrate(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...

    # organisations
    async def create_org(self, name: str) -> Org: ...
    async def get_org(self, org_id: str) -> Org | None: ...
    async def get_org_by_name(self, name: str) -> Org | None: ...
    async def list_orgs(self) -> list[Org]: ...

    # gateway keys (only hashes are stored)
    async def create_key(self, org_id: str, key_hash: str, prefix: str, name: str | None) -> GatewayKey: ...
    async def find_key_by_hash(self, key_hash: str) -> GatewayKey | None: ...
    async def list_keys(self, org_id: str | None = None) -> list[GatewayKey]: ...
    async def revoke_key(self, key_id: str) -> GatewayKey: ...
    async def keys_revision(
        self,
    ) -> tuple[int, ...]: ...  # changes on any change to keys, provider keys, orgs

    async def get_key(self, key_id: str) -> GatewayKey | None: ...
    async def update_key(
        self,
        key_id: str,
        *,
        name: str | None = None,
        allowed_models: Sequence[str] | None = None,
        limits: Sequence[LimitRule] | None = None,
    ) -> GatewayKey: ...
    async def update_org(
        self,
        org_id: str,
        *,
        credits_enabled: bool | None = None,
        limits: Sequence[LimitRule] | None = None,
        allow_caller_provider_keys: bool | None = None,
    ) -> Org: ...

    # provider keys (BYOK), stored encrypted; Conflict on a duplicate id within the organisation
    async def create_provider_key(
        self,
        org_id: str,
        provider: str,
        ciphertext: str,
        hint: str,
        *,
        key_id: str | None = None,
        config: dict[str, Any] | None = None,
        enabled: bool = True,
    ) -> ProviderKey: ...
    async def list_provider_keys(self, org_id: str | None = None) -> list[ProviderKey]: ...
    async def get_provider_key(self, org_id: str, key_id: str) -> ProviderKey | None: ...
    async def update_provider_key(
        self,
        org_id: str,
        key_id: str,
        *,
        ciphertext: str | None = None,
        hint: str | None = None,
        config: dict[str, Any] | None = None,
        enabled: bool | None = None,
    ) -> ProviderKey: ...
    async def delete_provider_key(self, org_id: str, key_id: str) -> None: ...

    # facts about the store (the master key's check value); the first put_meta_once of a name wins
    async def get_meta(self, name: str) -> str | None: ...
    async def put_meta_once(self, name: str, value: str) -> str: ...
    async def provider_key_samples(self, limit: int) -> list[str]: ...

    # credits (PTB): integer nano-dollars inside, USD floats at the edge; every change is one ledger row
    async def add_credits(self, org_id: str, amount_usd: float, note: str | None = None) -> LedgerEntry: ...
    async def credit_balance(self, org_id: str) -> CreditBalance: ...
    async def credit_ledger(self, org_id: str, limit: int = 100, offset: int = 0) -> list[LedgerEntry]: ...
    async def reserve_credits(self, org_id: str, reservation_id: str, amount_usd: float) -> bool: ...
    async def settle_credits(
        self, org_id: str, reservation_id: str, cost_usd: float, request_id: str | None = None
    ) -> None: ...
    async def release_credits(self, org_id: str, reservation_id: str) -> None: ...
    async def expire_reservations(self, older_than_ms: int) -> int: ...

    # request log
    async def insert_requests(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]: ...
    async def query_requests(self, q: RequestQuery) -> list[dict[str, Any]]: ...
    async def get_request(self, org_id: str, request_id: str) -> dict[str, Any] | None: ...
