"""Facts about the store itself (`store_meta`: the master key's check value) and a sample of provider-key
ciphertexts to prove a master key against. A mixin of `SQLStore`: it uses the store's `engine` and `_now()`."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from .schema import provider_keys, store_meta
from .sql_errors import unavailable_on_db_error


class MetaMixin:
    engine: AsyncEngine
    _now: Callable[[], int]

    async def get_meta(self, name: str) -> str | None:
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                return (
                    await conn.execute(select(store_meta.c.value).where(store_meta.c.name == name))
                ).scalar()

    async def put_meta_once(self, name: str, value: str) -> str:
        """Record `value` unless `name` already has one; returns the value that is stored now (the first writer
        wins, so two processes starting together on a fresh store agree on one)."""
        with unavailable_on_db_error():
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(
                        insert(store_meta).values(name=name, value=value, created_at=self._now())
                    )
                return value
            except IntegrityError:
                stored = await self.get_meta(name)
                assert stored is not None
                return stored

    async def provider_key_samples(self, limit: int) -> list[str]:
        """Up to `limit` provider-key ciphertexts, from any organisation."""
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                rows = await conn.execute(select(provider_keys.c.ciphertext).limit(limit))
                return [r[0] for r in rows]
