"""stores/log_writer_sqlite.py: the request log's SQLite writer has a connection of its own (not the engine's pool:
one copy of its statements, none longer than MOST_ROWS rows), recovers from a locked or failed batch, and an
in-memory database is still written on the engine's own connection."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from switchyard.stores.base import StoreUnavailable
from switchyard.stores.log_writer_sqlite import MOST_ROWS, SqliteLogWriter, _chunks
from switchyard.stores.sql import SQLStore


def rec(org_id: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "org_id": org_id,
        "created_at": 1_700_000_000_000,
        "path": "/v1/chat/completions",
        "status": 200,
        "properties": {"env": "prod"},
        "attempts": [{"provider": "p", "status": 200}],
        **kw,
    }


async def file_store(tmp_path: Path) -> SQLStore:
    store = SQLStore(f"sqlite:///{tmp_path / 'log.db'}")
    await store.migrate()
    return store


async def test_batches_are_written_on_the_writers_own_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await file_store(tmp_path)
    try:
        org = await store.create_org("o")

        class NoPool:
            def connect(self) -> Any:
                raise AssertionError("the log writer must not take a connection from the engine's pool")

        monkeypatch.setattr(store, "engine", NoPool())
        records = [rec(org.id) for _ in range(700)]
        assert await store.insert_requests(records[:500]) == []
        assert await store.insert_requests(records[500:]) == []
        assert await store.insert_requests(records[:10]) == []  # a replay: nothing new, nothing twice
        assert store.sqlite_log is not None and store.sqlite_log._conn is not None
        monkeypatch.undo()
        for r in (records[0], records[-1]):
            row = await store.get_request(org.id, r["id"])
            assert (
                row is not None and row["properties"] == {"env": "prod"} and row["attempts"] == r["attempts"]
            )
        count = sqlite3.connect(tmp_path / "log.db").execute("SELECT count(*) FROM requests").fetchone()[0]
        assert count == 700
    finally:
        await store.close()


def test_no_insert_statement_binds_more_than_most_rows() -> None:
    for n in (1, 127, 128, 129, 500, 1000):
        sizes = [len(c) for c in _chunks(list(range(n)), MOST_ROWS)]
        assert sum(sizes) == n and max(sizes) <= MOST_ROWS
        assert all(s & (s - 1) == 0 for s in sizes)  # powers of two: few distinct statements to cache


async def test_a_locked_database_is_unavailable_then_the_writer_recovers(tmp_path: Path) -> None:
    store = await file_store(tmp_path)
    store.sqlite_log = SqliteLogWriter(str(tmp_path / "log.db"), timeout=0.2)
    lock = sqlite3.connect(tmp_path / "log.db", timeout=5, isolation_level=None)
    try:
        org = await store.create_org("o")
        first = rec(org.id)
        lock.execute("BEGIN IMMEDIATE")  # another process holds the write lock (a backup, a migration)
        with pytest.raises(StoreUnavailable):
            await store.insert_requests([first])
        lock.execute("ROLLBACK")
        assert await store.insert_requests([first, rec(org.id)]) == []
        assert await store.get_request(org.id, first["id"]) is not None
    finally:
        lock.close()
        await store.close()


async def test_rejected_records_are_returned_and_the_rest_stored(tmp_path: Path) -> None:
    store = await file_store(tmp_path)
    try:
        org = await store.create_org("o")
        good, bad = rec(org.id), rec(org.id, path=None)  # NOT NULL: no retry can fix it
        assert [r["id"] for r in await store.insert_requests([good, bad])] == [bad["id"]]
        assert await store.get_request(org.id, good["id"]) is not None
    finally:
        await store.close()


async def test_an_in_memory_database_is_written_on_the_engines_connection() -> None:
    store = SQLStore("sqlite:///:memory:")  # only the engine's one connection sees this database
    try:
        await store.migrate()
        assert store.sqlite_log is None
        org = await store.create_org("o")
        r = rec(org.id)
        assert await store.insert_requests([r]) == []
        row = await store.get_request(org.id, r["id"])
        assert row is not None and row["properties"] == {"env": "prod"}
    finally:
        await store.close()


async def test_close_waits_for_nothing_and_twice_is_harmless(tmp_path: Path) -> None:
    store = await file_store(tmp_path)
    await store.close()
    assert store.sqlite_log is not None
    await store.sqlite_log.close()
    await asyncio.sleep(0)


async def test_the_live_writer_and_the_replayer_inserting_at_once_both_land(tmp_path: Path) -> None:
    """The sink's writer and its spool replayer insert through the same store, so the same connection: two batches
    at once must not share (or break) one transaction. Before the batches were serialised the second BEGIN failed
    ("cannot start a transaction within a transaction") or joined the first's transaction, which a failure of
    either rolled back under the other."""
    store = await file_store(tmp_path)
    try:
        org = await store.create_org("o")
        assert await store.insert_requests([rec(org.id)]) == []  # the writer's connection is open
        batches = [[rec(org.id) for _ in range(300)] for _ in range(4)]
        results = await asyncio.gather(*(store.insert_requests(b) for b in batches), return_exceptions=True)
        assert results == [[], [], [], []]
        for batch in batches:
            for r in (batch[0], batch[-1]):
                assert await store.get_request(org.id, r["id"]) is not None
    finally:
        await store.close()
