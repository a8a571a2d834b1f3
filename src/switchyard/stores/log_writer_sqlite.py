"""The request log's writer on SQLite: a connection of its own (aiosqlite: sqlite3 in a thread of its own).

Before, each batch went through SQLAlchemy's async engine (a pool checkout, greenlet switches and a reset-on-return
rollback per batch, on the event loop) and took whichever pooled connection came next, so every connection of the
pool compiled and cached its own copies of the big multi-row INSERT programs (a 512-row one is 2.8 MB; the pool's
copies were most of a serving process's growth under load). Now the writer keeps one connection, which holds one
copy of each statement, and no statement has more than `MOST_ROWS` rows (a 128-row program is 0.7 MB).

The rows are built on the loop and each statement is one hop to the connection's thread, as before. Tried and not
kept: the whole batch (rows, lookup, inserts, rollup fold, commit) as one call into a thread of its own. It took
the Python part of the work off the loop, but that thread then held the GIL in bursts of milliseconds, and in
paired runs the loop answered fewer requests (bench/README.md, issue 10).

Statements bind many rows each rather than `executemany` one: sqlite3 releases and re-takes the GIL around every
step, and with a busy event loop each re-take waits up to the switch interval (5 ms): one row per step held a
writer to ~1,000 rows/s at saturation. An in-memory database (which only its own connection sees) is written on
the engine's connection instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from itertools import chain
from typing import Any

from .log_writer import (
    COLUMNS,
    INSERT_HEAD,
    PROPS_HEAD,
    PROPS_TAIL,
    RejectedBatch,
    Row,
    entries_of,
    row_key,
    write_resolved,
)
from .rollup_journal import apply_sqlite
from .schema import request_properties

# sqlite3 binds exact int, float, str and bytes directly and sends every other value (None, bool) through its
# adapter protocol: a registry miss, then `__adapt__` and `__conform__` looked up, with the GIL held in the writer's
# thread; a request row has ~14 such values. A registered adapter is a registry hit instead (~2,000 instructions
# less a value) and binds the same: None → NULL, bool → 0/1 (as sqlite3 binds an int subclass). Process-wide, so
# the engine's sqlite3 connections bind the same values, faster, too.
_EMPTY: dict[None, None] = {}  # its `get` returns None: the adapter for None, a C call
sqlite3.register_adapter(type(None), _EMPTY.get)
sqlite3.register_adapter(bool, int)

_IGNORE = "ON CONFLICT (id, org_id) DO NOTHING"
_PROP_WIDTH = len(request_properties.columns)
_MAX_PARAMS = 32766  # SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32
MOST_ROWS = 128  # rows per INSERT statement at most (the statement cache holds one program per size)
_REJECTED = (
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    UnicodeEncodeError,
    TypeError,  # orjson refuses lone surrogates
    RejectedBatch,
)


def _values(width: int, n: int) -> str:
    one = "(" + ", ".join("?" * width) + ")"
    return ", ".join([one] * n)


def _chunks(rows: list[Any], most: int) -> list[list[Any]]:
    """Split into power-of-two sized chunks (≤ `most`): sqlite3 caches one prepared statement per distinct SQL, so
    the sizes are few and known."""
    out, i = [], 0
    while i < len(rows):
        size = 1 << min(len(rows) - i, most).bit_length() - 1
        out.append(rows[i : i + size])
        i += size
    return out


def _flat(rows: list[Row]) -> list[Any]:
    return list(chain.from_iterable(rows))  # in C: half the instructions of a nested comprehension


async def insert_sqlite(conn: Any, records: Sequence[dict[str, Any]]) -> None:
    """One batch in one transaction. `conn` is an aiosqlite.Connection: the writer's own, or the engine's for an
    in-memory database."""

    async def lookup(ids: list[str]) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        for chunk in _chunks(ids, 512):
            sql = f"SELECT id, org_id, uid FROM requests WHERE id IN ({', '.join('?' * len(chunk))})"
            found.update(((i, o), u) for i, o, u in await (await conn.execute(sql, chunk)).fetchall())
        return found

    async def insert(rows: list[Row]) -> set[tuple[str, str]]:
        # No RETURNING (each returned row is a GIL hand-over); the batch holds the write lock from its lookup on
        # (BEGIN IMMEDIATE), so no other writer can take an id in between and every resolved row goes in.
        for chunk in _chunks(rows, MOST_ROWS):
            cur = await conn.execute(
                f"{INSERT_HEAD} VALUES {_values(len(COLUMNS), len(chunk))} {_IGNORE}", _flat(chunk)
            )
            if cur.rowcount != len(chunk):  # cannot happen under the write lock; the batch is replayed later
                raise RuntimeError(
                    f"{len(chunk) - cur.rowcount} request rows conflicted under the write lock"
                )
        return {row_key(row) for row in rows}

    try:
        if not conn.in_transaction:
            await conn.execute("BEGIN IMMEDIATE")
        rows, props = await write_resolved(entries_of(records), lookup, insert)
        for chunk in _chunks(props, min(MOST_ROWS * 4, _MAX_PARAMS // _PROP_WIDTH)):
            await conn.execute(
                f"{PROPS_HEAD} VALUES {_values(_PROP_WIDTH, len(chunk))} {PROPS_TAIL}", _flat(chunk)
            )
        await apply_sqlite(
            conn, rows, props
        )  # dashboard rollups, same transaction (stores/rollup_journal.py)
        await conn.commit()
    except _REJECTED as e:
        await _rollback(conn)
        raise RejectedBatch(str(e)) from None
    except BaseException:
        await _rollback(conn)
        raise


async def _rollback(conn: Any) -> None:
    with contextlib.suppress(sqlite3.Error, ValueError):
        await conn.rollback()


class SqliteLogWriter:
    """The writer's own connection (aiosqlite: sqlite3 in a thread of its own). `insert` raises RejectedBatch (bad
    data) or sqlite3.Error / OSError (the database cannot be written now); the connection is opened on first use
    and again after an error. One batch at a time: the sink's writer and its spool replayer both insert here, and
    two batches on one connection would share one transaction (a second BEGIN fails; a rollback of either would
    take the other's rows with it)."""

    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        self._path = path
        self._timeout = timeout  # how long a batch waits for another writer's lock (busy timeout)
        self._conn: Any = None
        self._one_batch = asyncio.Lock()

    async def insert(self, records: Sequence[dict[str, Any]]) -> None:
        async with self._one_batch:
            await self._insert(records)

    async def _insert(self, records: Sequence[dict[str, Any]]) -> None:
        conn = self._conn or await self._connect()
        try:
            await insert_sqlite(conn, records)
        except RejectedBatch:
            raise
        except BaseException:
            await self.close()  # a fresh connection next time (a file replaced or restored under us)
            raise

    async def _connect(self) -> Any:
        import aiosqlite

        conn = await aiosqlite.connect(
            self._path, timeout=self._timeout, isolation_level=None, cached_statements=64
        )
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            # A batch dirties about a page per row (random request ids: one primary-key leaf each) and reads as
            # many; with SQLite's default 2 MB cache a batch of a few hundred rows overflowed it, so dirty pages
            # were spilled to the WAL mid-transaction (and written again at commit) and leaves were read back.
            # 4 MB holds a batch: at 340-row batches, 9% fewer page writes and 46% fewer reads (bench/README.md).
            await conn.execute("PRAGMA cache_size=-4000")
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        return conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await conn.close()
