"""The rollup journal: how the log writer keeps rollups exact without paying for them per row.

In the writer's transaction each batch adds ONE journal row — its deltas, folded and serialised (`Fold.compact`)
— beside the request rows, so the deltas are durable exactly when the rows are. A compactor (every second, and
before every read of rollups or sessions, `ensure_compacted`) claims journal rows, merges them — a second of
traffic collapses to one upsert per key — and adds them to `rollups` and `sessions` in one transaction that also
deletes the claimed rows. Claims cannot overlap: SQLite's DELETE takes the write lock; PostgreSQL's uses
FOR UPDATE SKIP LOCKED, so replicas compact side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import select

from .rollup_sql import sqlite_statements, upsert_postgres
from .rollups import Deltas, fold
from .schema_dashboard import rollup_journal

log = logging.getLogger("switchyard.rollups")
CLAIM = 200  # journal rows merged per compaction transaction


def _now() -> int:
    return int(time.time() * 1000)


async def apply_sqlite(conn: Any, rows: Sequence[Sequence[Any]], props: Sequence[Sequence[Any]]) -> None:
    """The batch's rollup deltas into the journal, inside the writer's open transaction (aiosqlite)."""
    if rows:
        payload = orjson.dumps(fold(rows, props).compact()).decode()
        await conn.execute(
            "INSERT INTO rollup_journal (created_at, payload) VALUES (?, ?)", (_now(), payload)
        )


async def apply_postgres(conn: Any, rows: Sequence[Sequence[Any]], props: Sequence[Sequence[Any]]) -> None:
    """The batch's rollup deltas into the journal, inside the writer's open transaction (asyncpg)."""
    if rows:
        payload = orjson.dumps(fold(rows, props).compact()).decode()
        await conn.execute(
            "INSERT INTO rollup_journal (created_at, payload) VALUES ($1, $2)", _now(), payload
        )


_SQLITE_CLAIM = (
    "DELETE FROM rollup_journal WHERE id IN (SELECT id FROM rollup_journal ORDER BY id LIMIT ?) "
    "RETURNING payload"
)
_PG_CLAIM = (
    "DELETE FROM rollup_journal WHERE id IN (SELECT id FROM rollup_journal ORDER BY id LIMIT $1 "
    "FOR UPDATE SKIP LOCKED) RETURNING payload"
)


async def _compact_once(store: Any) -> int:
    async with store.engine.connect() as sa_conn:
        conn = (await sa_conn.get_raw_connection()).driver_connection
        if store.dialect == "sqlite":
            try:
                cur = await conn.execute(_SQLITE_CLAIM, (CLAIM,))
                claimed = [orjson.loads(r[0]) for r in await cur.fetchall()]
                if claimed:
                    for sql, params in sqlite_statements(Deltas(claimed)):
                        await conn.execute(sql, params)
                await conn.commit()
            except BaseException:
                await conn.rollback()
                raise
        else:
            async with conn.transaction():
                claimed = [orjson.loads(r[0]) for r in await conn.fetch(_PG_CLAIM, CLAIM)]
                if claimed:
                    await upsert_postgres(conn, Deltas(claimed))
    return len(claimed)


async def compact(store: Any) -> int:
    """Merge every journal row into rollups and sessions. Returns the number of journal rows merged."""
    done = 0
    while n := await _compact_once(store):
        done += n
        if n < CLAIM:
            break
    return done


async def ensure_compacted(store: Any) -> None:
    """Before a read of rollups or sessions: fold in what the writer has journaled (a cheap check when none)."""
    async with store.engine.connect() as conn:
        waiting = (await conn.execute(select(rollup_journal.c.id).limit(1))).first()
    if waiting is not None:
        await compact(store)


class Compactor:
    """Background compaction every `interval` seconds (reads compact on their own too)."""

    def __init__(self, store: Any, interval: float = 1.0) -> None:
        self._store, self._interval = store, interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="switchyard-rollup-compactor")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await compact(self._store)
            except asyncio.CancelledError:
                raise
            except Exception:  # store down or a bug: the journal keeps the deltas; try again next time
                log.exception("rollup compaction failed; the journal keeps the deltas")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await compact(self._store)
