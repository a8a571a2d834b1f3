"""The request log's writer on SQLite: a sqlite3 connection of its own, used by a thread of its own.

A batch is one call off the event loop (`run_in_executor`): rows from records, the identity lookup, the multi-row
INSERTs, the rollup journal and the commit all run in the writer's thread, under `BEGIN IMMEDIATE`. Before, the
batch ran on the loop through SQLAlchemy's async engine (greenlets, a pool checkout and a reset per batch) and
aiosqlite (a future and a thread hop per statement), and it took whichever pooled connection came next, so every
connection of the pool compiled and cached its own copies of the big INSERT programs (~5 MB each; the pool's
copies were most of a serving process's growth under load). Now one connection holds one copy, and no statement
has more than `MOST_ROWS` rows (a 512-row program is 2.8 MB, a 128-row one 0.7 MB).

Statements bind many rows each rather than `executemany` one: sqlite3 releases and re-takes the GIL around every
step, and with a busy event loop each re-take waits up to the switch interval (5 ms): one row per step held a
writer to ~1,000 rows/s at saturation. An in-memory database (which only its own connection sees) is written on
the engine's connection instead, in aiosqlite's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .log_writer import (
    ATTEMPTS,
    COLUMNS,
    INSERT_HEAD,
    PROPS_HEAD,
    PROPS_TAIL,
    Entry,
    RejectedBatch,
    Row,
    entries_of,
    ids_of,
    resolve,
    row_key,
)
from .rollup_journal import apply_sqlite
from .schema import request_properties

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
    return [v for row in rows for v in row]


def write(
    entries: list[Entry],
    lookup: Callable[[list[str]], dict[tuple[str, str], str]],
    insert: Callable[[list[Row]], set[tuple[str, str]]],
) -> tuple[list[Row], list[Row]]:
    """log_writer._write without awaits: resolve, insert, resolve the race losers again. Returns what went in."""
    done: list[Entry] = []
    pending = entries
    for attempt in range(ATTEMPTS + 1):
        pending = resolve(pending, lookup(ids_of(pending)))
        if not pending:
            return [row for row, _ in done], [p for _, ps in done for p in ps]
        if attempt == ATTEMPTS:
            break
        inserted = insert([row for row, _ in pending])
        done += [e for e in pending if row_key(e[0]) in inserted]
        pending = [e for e in pending if row_key(e[0]) not in inserted]
    raise RuntimeError(f"{len(pending)} request ids still in conflict after {ATTEMPTS} attempts")


def insert_sqlite(conn: sqlite3.Connection, records: Sequence[dict[str, Any]]) -> None:
    """One batch in one transaction, on the calling thread (the writer's, or aiosqlite's for :memory:)."""

    def lookup(ids: list[str]) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        for chunk in _chunks(ids, 512):
            sql = f"SELECT id, org_id, uid FROM requests WHERE id IN ({', '.join('?' * len(chunk))})"
            found.update(((i, o), u) for i, o, u in conn.execute(sql, chunk).fetchall())
        return found

    def insert(rows: list[Row]) -> set[tuple[str, str]]:
        # No RETURNING (each returned row is a GIL hand-over); the batch holds the write lock from its lookup on
        # (BEGIN IMMEDIATE), so no other writer can take an id in between and every resolved row goes in.
        for chunk in _chunks(rows, MOST_ROWS):
            cur = conn.execute(
                f"{INSERT_HEAD} VALUES {_values(len(COLUMNS), len(chunk))} {_IGNORE}", _flat(chunk)
            )
            if cur.rowcount != len(chunk):  # cannot happen under the write lock; the batch is replayed later
                raise RuntimeError(
                    f"{len(chunk) - cur.rowcount} request rows conflicted under the write lock"
                )
        return {row_key(row) for row in rows}

    try:
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
        rows, props = write(entries_of(records), lookup, insert)
        for chunk in _chunks(props, min(MOST_ROWS * 4, _MAX_PARAMS // _PROP_WIDTH)):
            conn.execute(f"{PROPS_HEAD} VALUES {_values(_PROP_WIDTH, len(chunk))} {PROPS_TAIL}", _flat(chunk))
        apply_sqlite(conn, rows, props)  # dashboard rollups, same transaction (stores/rollup_journal.py)
        conn.commit()
    except _REJECTED as e:
        _rollback(conn)
        raise RejectedBatch(str(e)) from None
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.rollback()


class SqliteLogWriter:
    """The writer's connection and thread. `insert` raises RejectedBatch (bad data) or sqlite3.Error / OSError
    (the database cannot be written now); the connection is opened on first use and again after an error."""

    def __init__(self, path: str, *, timeout: float = 30.0) -> None:
        self._path = path
        self._timeout = timeout  # how long a batch waits for another writer's lock (busy timeout)
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="switchyard-log-sqlite")
        self._closed = False

    async def insert(self, records: Sequence[dict[str, Any]]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._insert, records)

    def _insert(self, records: Sequence[dict[str, Any]]) -> None:
        conn = self._conn or self._connect()
        try:
            insert_sqlite(conn, records)
        except RejectedBatch:
            raise
        except BaseException:
            self._disconnect()  # a fresh connection next time (a file replaced or restored under us)
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path,
            timeout=self._timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=64,
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown(wait=False)
