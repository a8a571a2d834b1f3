"""Store contracts. Every backend (SQLite and PostgreSQL through `sql.SQLStore`) satisfies these; one
contract test suite runs them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class StoreUnavailable(Exception):
    """The store could not be reached or failed transiently; callers may retry later."""


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Org:
    id: str
    name: str
    created_at: int


@dataclass(frozen=True, slots=True)
class GatewayKey:
    id: str
    org_id: str
    name: str | None
    prefix: str
    created_at: int
    revoked_at: int | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


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
    async def keys_revision(self) -> tuple[int, int, int]: ...

    # request log
    async def insert_requests(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]: ...
    async def query_requests(self, q: RequestQuery) -> list[dict[str, Any]]: ...
    async def get_request(self, org_id: str, request_id: str) -> dict[str, Any] | None: ...
