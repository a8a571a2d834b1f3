"""Organisation and gateway-key settings (credits switch, limits, allowed models) and the change counter the
gateway polls (`keys_revision`). A mixin of `SQLStore`: it uses the store's `engine` and `_now()`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .base import GatewayKey, LimitRule, NotFound, Org
from .schema import gateway_keys, organizations, store_revision
from .sql_errors import unavailable_on_db_error


def encode_limits(limits: Sequence[LimitRule] | None) -> str | None:
    return orjson.dumps([r.as_dict() for r in limits]).decode() if limits else None


def decode_limits(text: str | None) -> tuple[LimitRule, ...]:
    if not text:
        return ()
    return tuple(
        LimitRule(
            metric=d["metric"],
            limit=float(d["limit"]),
            window_seconds=int(d["window_seconds"]),
            per=d.get("per", "key"),
        )
        for d in orjson.loads(text)
    )


def encode_models(models: Sequence[str] | None) -> str | None:
    return orjson.dumps(list(models)).decode() if models else None


def org_of(row: Any) -> Org:
    return Org(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        credits_enabled=bool(row.credits_enabled),
        limits=decode_limits(row.limits),
    )


def key_of(row: Any) -> GatewayKey:
    return GatewayKey(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        allowed_models=tuple(orjson.loads(row.allowed_models)) if row.allowed_models else (),
        limits=decode_limits(row.limits),
    )


async def bump_revision(conn: AsyncConnection) -> None:
    """Count one change, inside the caller's transaction: the change and the new revision commit together."""
    await conn.execute(
        update(store_revision).where(store_revision.c.id == 1).values(value=store_revision.c.value + 1)
    )


class SettingsMixin:
    engine: AsyncEngine
    _now: Callable[[], int]

    async def keys_revision(self) -> tuple[int]:
        """A counter bumped in the same transaction as every change to gateway keys, provider keys and
        organisations. Why a counter rather than a fingerprint of the tables (count, max(updated_at)): a deleted
        row leaves no timestamp behind, two changes can share a millisecond, and several gateway processes'
        clocks disagree — a counter changes on every committed change whatever the clocks say, and reading it is
        one primary-key lookup."""
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                value = (
                    await conn.execute(select(store_revision.c.value).where(store_revision.c.id == 1))
                ).scalar()
        return (int(value or 0),)

    async def get_key(self, key_id: str) -> GatewayKey | None:
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                row = (await conn.execute(select(gateway_keys).where(gateway_keys.c.id == key_id))).first()
        return key_of(row) if row else None

    async def update_key(
        self,
        key_id: str,
        *,
        name: str | None = None,
        allowed_models: Sequence[str] | None = None,
        limits: Sequence[LimitRule] | None = None,
    ) -> GatewayKey:
        """Change the given fields (None: keep). An empty `allowed_models` or `limits` clears it."""
        values: dict[str, Any] = {"updated_at": self._now()}
        if name is not None:
            values["name"] = name
        if allowed_models is not None:
            values["allowed_models"] = encode_models(allowed_models)
        if limits is not None:
            values["limits"] = encode_limits(limits)
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                res = await conn.execute(
                    update(gateway_keys).where(gateway_keys.c.id == key_id).values(**values)
                )
                if not res.rowcount:
                    raise NotFound(f"no gateway key with id {key_id}")
                await bump_revision(conn)
                row = (await conn.execute(select(gateway_keys).where(gateway_keys.c.id == key_id))).one()
        return key_of(row)

    async def update_org(
        self, org_id: str, *, credits_enabled: bool | None = None, limits: Sequence[LimitRule] | None = None
    ) -> Org:
        """Change the given fields (None: keep). An empty `limits` clears them."""
        values: dict[str, Any] = {"updated_at": self._now()}
        if credits_enabled is not None:
            values["credits_enabled"] = bool(credits_enabled)
        if limits is not None:
            values["limits"] = encode_limits(limits)
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                res = await conn.execute(
                    update(organizations).where(organizations.c.id == org_id).values(**values)
                )
                if not res.rowcount:
                    raise NotFound(f"no organisation with id {org_id}")
                await bump_revision(conn)
                row = (await conn.execute(select(organizations).where(organizations.c.id == org_id))).one()
        return org_of(row)
