"""Provider keys (BYOK): an organisation's own encrypted provider secrets. A mixin of `SQLStore`.

The store never sees a plaintext secret: callers encrypt before `create_provider_key` and decrypt after reading.
Every change bumps the revision counter in the same transaction, so gateways drop cached keys within a poll.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .base import Conflict, NotFound, ProviderKey
from .schema import organizations, provider_keys
from .sql_errors import unavailable_on_db_error
from .sql_settings import bump_revision

MAX_ID_LENGTH = 64


def _provider_key(row: Any) -> ProviderKey:
    return ProviderKey(
        id=row.id,
        org_id=row.org_id,
        provider=row.provider,
        hint=row.hint,
        config=orjson.loads(row.config) if row.config else {},
        enabled=bool(row.enabled),
        created_at=row.created_at,
        updated_at=row.updated_at,
        ciphertext=row.ciphertext,
    )


def _check_id(key_id: str) -> None:
    """The id is addressed as `model/provider/<id>`: a slash would make that ambiguous, and the column is
    bounded (PostgreSQL would refuse a longer id, SQLite would not — check here so both backends agree)."""
    if not key_id or len(key_id) > MAX_ID_LENGTH or "/" in key_id or key_id != key_id.strip():
        raise ValueError(
            f"a provider key id is 1-{MAX_ID_LENGTH} characters, without '/' or surrounding spaces"
        )


def _where(org_id: str, key_id: str) -> Any:
    return (provider_keys.c.org_id == org_id) & (provider_keys.c.id == key_id)


async def _row(conn: AsyncConnection, org_id: str, key_id: str) -> Any:
    return (await conn.execute(select(provider_keys).where(_where(org_id, key_id)))).first()


class ProviderKeysMixin:
    engine: AsyncEngine
    _now: Callable[[], int]

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
    ) -> ProviderKey:
        """Conflict when the organisation already has a key with this id; NotFound for an unknown organisation."""
        if key_id is None:
            key_id = "pk_" + secrets.token_hex(8)
        _check_id(key_id)
        t = self._now()
        try:
            with unavailable_on_db_error():
                async with self.engine.begin() as conn:
                    # write first, then check the organisation: on SQLite a read before the first write would
                    # pin a snapshot that a concurrent writer could invalidate (SQLITE_BUSY_SNAPSHOT)
                    await conn.execute(
                        insert(provider_keys).values(
                            org_id=org_id,
                            id=key_id,
                            provider=provider,
                            ciphertext=ciphertext,
                            hint=hint,
                            config=orjson.dumps(config).decode() if config else None,
                            enabled=bool(enabled),
                            created_at=t,
                            updated_at=t,
                        )
                    )
                    if (
                        await conn.execute(select(organizations.c.id).where(organizations.c.id == org_id))
                    ).first() is None:
                        raise NotFound(f"no organisation with id {org_id}")
                    await bump_revision(conn)
                    row = await _row(conn, org_id, key_id)
        except IntegrityError:
            raise Conflict(f"the organisation already has a provider key with id {key_id!r}") from None
        return _provider_key(row)

    async def list_provider_keys(self, org_id: str | None = None) -> list[ProviderKey]:
        q = select(provider_keys).order_by(
            provider_keys.c.created_at, provider_keys.c.org_id, provider_keys.c.id
        )
        if org_id is not None:
            q = q.where(provider_keys.c.org_id == org_id)
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                rows = (await conn.execute(q)).all()
        return [_provider_key(r) for r in rows]

    async def get_provider_key(self, org_id: str, key_id: str) -> ProviderKey | None:
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                row = await _row(conn, org_id, key_id)
        return _provider_key(row) if row else None

    async def update_provider_key(
        self,
        org_id: str,
        key_id: str,
        *,
        ciphertext: str | None = None,
        hint: str | None = None,
        config: dict[str, Any] | None = None,
        enabled: bool | None = None,
    ) -> ProviderKey:
        """Change the given fields (None: keep); `config` replaces the whole object. NotFound when missing."""
        values: dict[str, Any] = {"updated_at": self._now()}
        if ciphertext is not None:
            values["ciphertext"] = ciphertext
        if hint is not None:
            values["hint"] = hint
        if config is not None:
            values["config"] = orjson.dumps(config).decode() if config else None
        if enabled is not None:
            values["enabled"] = bool(enabled)
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                res = await conn.execute(update(provider_keys).where(_where(org_id, key_id)).values(**values))
                if not res.rowcount:
                    raise NotFound(f"no provider key {key_id!r} in this organisation")
                await bump_revision(conn)
                row = await _row(conn, org_id, key_id)
        return _provider_key(row)

    async def delete_provider_key(self, org_id: str, key_id: str) -> None:
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                res = await conn.execute(delete(provider_keys).where(_where(org_id, key_id)))
                if not res.rowcount:
                    raise NotFound(f"no provider key {key_id!r} in this organisation")
                await bump_revision(conn)
