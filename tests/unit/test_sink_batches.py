"""observe/sink_batches.py: the writer waits for a fuller batch (up to `insert_delay`) while the records are safe in
their write-ahead files, inserts at once when a batch is full, and never waits without write-ahead."""

from __future__ import annotations

import asyncio
from pathlib import Path

from test_sink import FakeStore, eventually, make_sink, records


async def test_records_wait_in_their_write_ahead_files_for_a_fuller_batch(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, flush_interval=0.01, insert_delay=0.4, batch_size=100)
    await sink.start()
    try:
        for r in records(10):
            sink.submit(r)
        await asyncio.sleep(0.15)
        assert (
            store.rows == {} and sink.at_risk == 0
        )  # not inserted yet, but on disk: a SIGKILL loses nothing
        assert list(tmp_path.glob("*.claimed-*"))
        for r in records(10):
            sink.submit(r)
        await eventually(lambda: len(store.rows) == 20)
        assert store.batches == [20]  # one insert for both ticks' records
    finally:
        await sink.close()


async def test_a_full_batch_is_inserted_at_once(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, flush_interval=0.01, insert_delay=30, batch_size=50)
    await sink.start()
    try:
        for r in records(50):
            sink.submit(r)
        await eventually(lambda: len(store.rows) == 50, timeout=2)
    finally:
        await sink.close()


async def test_without_write_ahead_records_are_inserted_without_waiting(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, flush_interval=0.01, insert_delay=30, write_ahead=False)
    await sink.start()
    try:
        for r in records(5):
            sink.submit(r)
        await eventually(lambda: len(store.rows) == 5, timeout=2)
    finally:
        await sink.close()


async def test_close_inserts_what_was_waiting(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, flush_interval=0.01, insert_delay=30)
    await sink.start()
    for r in records(7):
        sink.submit(r)
    await asyncio.sleep(0.05)
    assert store.rows == {}
    await sink.close()
    assert len(store.rows) == 7 and list(tmp_path.iterdir()) == []
