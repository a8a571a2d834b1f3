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
    if text.startswith("{"):  # an organisation's column with settings beside its rules (encode_org_limits)
        return decode_limits(orjson.dumps(orjson.loads(text).get("rules") or []).decode())
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


# Boolean organisation settings kept in the organisation's `limits` JSON column, so adding one needs no migration:
# the column holds the plain list of rules when no setting is on (as always), else {"rules": [...], "settings": {..}}.
ORG_SETTINGS = ("allow_caller_provider_keys",)


def org_settings(text: str | None) -> dict[str, bool]:
    if not text or not text.startswith("{"):
        return {}
    raw = orjson.loads(text).get("settings") or {}
    return {k: bool(raw.get(k)) for k in ORG_SETTINGS if k in raw}


def encode_org_limits(limits: Sequence[LimitRule], settings: dict[str, bool]) -> str | None:
    on = {k: True for k in ORG_SETTINGS if settings.get(k)}
    if not on:
        return encode_limits(limits)
    return orjson.dumps({"rules": [r.as_dict() for r in limits], "settings": on}).decode()


def org_of(row: Any) -> Org:
    return Org(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        credits_enabled=bool(row.credits_enabled),
        limits=decode_limits(row.limits),
        allow_caller_provider_keys=org_settings(row.limits).get("allow_caller_provider_keys", False),
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
        self,
        org_id: str,
        *,
        credits_enabled: bool | None = None,
        limits: Sequence[LimitRule] | None = None,
        allow_caller_provider_keys: bool | None = None,
    ) -> Org:
        """Change the given fields (None: keep). An empty `limits` clears them."""
        values: dict[str, Any] = {"updated_at": self._now()}
        if credits_enabled is not None:
            values["credits_enabled"] = bool(credits_enabled)
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                if limits is not None or allow_caller_provider_keys is not None:  # one JSON column holds both
                    old = (
                        await conn.execute(
                            select(organizations.c.limits)
                            .where(organizations.c.id == org_id)
                            .with_for_update()
                        )
                    ).scalar()
                    settings = org_settings(old)
                    if allow_caller_provider_keys is not None:
                        settings["allow_caller_provider_keys"] = allow_caller_provider_keys
                    values["limits"] = encode_org_limits(
                        decode_limits(old) if limits is None else limits, settings
                    )
                res = await conn.execute(
                    update(organizations).where(organizations.c.id == org_id).values(**values)
                )
                if not res.rowcount:
                    raise NotFound(f"no organisation with id {org_id}")
                await bump_revision(conn)
                row = (await conn.execute(select(organizations).where(organizations.c.id == org_id))).one()
        return org_of(row)
