"""The Responses API state of bridged providers (migration 0006): one row per stored response (its whole
conversation: the input it was answered from, with earlier turns expanded, and its output) and one per output
item (what `item_reference` points at), keyed by (organisation, id), each with an expiry.

Reads ignore expired rows; `purge` deletes them in small batches. Writes never overwrite: ids are random, so a
second write of an id is the same data (a replayed batch)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Index, String, Table, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .dialect_insert import insert_for
from .schema import metadata
from .sql_errors import unavailable_on_db_error

response_items = Table(
    "response_items",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),  # "response" | "item"
    Column("data", Text, nullable=False),  # JSON: {"input": [...], "output": [...]} or one item
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_response_items_expires", "expires_at"),
)


@dataclass(frozen=True, slots=True)
class StoredRow:
    org_id: str
    id: str
    kind: str
    data: Any
    created_at: int
    expires_at: int


class ResponseItems:
    """SQL access for the rows above, on the store's engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = insert_for(engine.dialect.name)

    async def put(self, rows: Sequence[StoredRow]) -> None:
        if not rows:
            return
        values = [
            {
                "org_id": r.org_id,
                "id": r.id,
                "kind": r.kind,
                "data": orjson.dumps(r.data).decode(),
                "created_at": r.created_at,
                "expires_at": r.expires_at,
            }
            for r in rows
        ]
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                await conn.execute(self._insert(response_items).on_conflict_do_nothing(), values)

    async def get(self, org_id: str, ids: Iterable[str], now_ms: int) -> dict[str, tuple[str, Any]]:
        """id → (kind, data) for the live rows among `ids` of this organisation only."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        t = response_items.c
        q = select(t.id, t.kind, t.data).where(t.org_id == org_id, t.id.in_(wanted), t.expires_at > now_ms)
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                rows = (await conn.execute(q)).all()
        return {r.id: (r.kind, orjson.loads(r.data)) for r in rows}

    async def purge(self, now_ms: int, batch: int = 1000) -> int:
        """Delete up to about `batch` expired rows (oldest first); returns how many went."""
        t = response_items.c
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                cut = (
                    await conn.execute(
                        select(t.expires_at)
                        .where(t.expires_at < now_ms)
                        .order_by(t.expires_at)
                        .offset(batch - 1)
                        .limit(1)
                    )
                ).scalar()
                bound = t.expires_at <= cut if cut is not None else t.expires_at < now_ms
                res = await conn.execute(delete(response_items).where(bound))
        return res.rowcount or 0
