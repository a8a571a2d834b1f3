"""The sink's memory bound (observe/sink_spill.py): a writer that falls behind keeps at most `memory_records`
records in memory; the rest stay in their write-ahead files and are read back when their turn comes. Nothing is
lost or stored twice, a store outage sends spilled batches to replay, a SIGKILL leaves them for the next process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from test_sink import FakeStore, eventually, make_sink, records

from switchyard.observe.sink import LogSink


def in_memory(sink: LogSink) -> int:
    return len(sink._queue) + sum(c.left for c in sink._chunks if c.records is not None)


def held_store(store: FakeStore) -> asyncio.Event:
    """Inserts wait for the returned event (a slow store, or a loop too busy to write)."""
    gate = asyncio.Event()
    insert = store.insert_requests

    async def held(batch: list[dict[str, Any]]) -> None:
        await gate.wait()
        await insert(batch)

    store.insert_requests = held  # type: ignore[method-assign]
    return gate


async def test_a_writer_behind_keeps_at_most_memory_records_in_memory(tmp_path: Path) -> None:
    store = FakeStore()
    gate = held_store(store)
    sink = make_sink(store, tmp_path, flush_interval=0.01, batch_size=100, memory_records=60)
    await sink.start()
    sent, peak = [], 0
    try:
        for _ in range(15):  # 15 ticks of 30 records while the first insert is held
            batch = records(30)
            sent += batch
            for r in batch:
                sink.submit(r)
            await asyncio.sleep(0.03)
            peak = max(peak, in_memory(sink))
        assert sink.backlog == len(sent) and sink.spilled >= len(sent) - 60 - 30 - 100
        # the bound, plus a tick not yet journaled, plus the chunk being delivered
        assert peak <= 60 + 30 + 100
        gate.set()
        await eventually(lambda: len(store.rows) == len(sent))
    finally:
        await sink.close()
    assert all(store.inserted[r["id"]] == 1 for r in sent) and sink.dropped == 0
    assert [store.rows[r["id"]] for r in sent] == sent  # read back exactly as submitted
    assert not [p for p in tmp_path.iterdir() if p.is_file()]  # every write-ahead file deleted once stored


async def test_close_drains_spilled_records_to_the_store(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, batch_size=50, memory_records=20)
    sent = []
    for _ in range(6):
        batch = records(25)
        sent += batch
        for r in batch:
            sink.submit(r)
        sink._journal()  # one flush tick (the timer never runs in this test)
    assert sink.spilled >= 100 and in_memory(sink) <= 25 + 20
    await sink.close()
    assert {r["id"] for r in sent} == set(store.rows) and set(store.inserted.values()) == {1}
    assert sink.written == len(sent) and sink.backlog == 0 and list(tmp_path.iterdir()) == []


async def test_store_outage_sends_spilled_batches_to_replay(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, batch_size=50, memory_records=20)
    sent = []
    for _ in range(4):
        batch = records(25)
        sent += batch
        for r in batch:
            sink.submit(r)
        sink._journal()
    assert sink.spilled > 0
    store.down = True
    await sink.close()  # nothing can be stored: every chunk, spilled or not, goes to the replay queue
    assert sink.spooled == len(sent) and sink.dropped == 0 and store.rows == {}
    store.down = False
    assert await sink.replay() == len(sent)
    assert set(store.inserted.values()) == {1} and len(store.rows) == len(sent)


async def test_a_spilled_file_removed_under_the_writer_is_counted_lost(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, batch_size=50, memory_records=20)
    for _ in range(3):
        for r in records(25):
            sink.submit(r)
        sink._journal()
    spilled = [c for c in sink._chunks if c.records is None]
    assert spilled
    for c in spilled:
        for p in c.paths:
            p.unlink()
    await sink.close()  # never raises; the others are stored
    assert sink.dropped == sum(25 for _ in spilled) and len(store.rows) == 75 - sink.dropped


_KILLED_CHILD = """
import asyncio, sys
from pathlib import Path
from switchyard.observe.sink import LogSink
from switchyard.observe.spool import Spool

class Hung:  # a store whose inserts never return
    async def ping(self): pass
    async def insert_requests(self, records): await asyncio.Event().wait()

async def main():
    sink = LogSink(Hung(), Spool(Path(sys.argv[1])), flush_interval=0.01, memory_records=10)
    await sink.start()
    for i in range(300):
        sink.submit({"id": f"r{i}", "org_id": "o"})
        if i % 20 == 0:
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert sink.spilled > 200, sink.spilled
    print("ready", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_sigkill_with_spilled_batches_loses_nothing(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    store = FakeStore()
    sink = make_sink(store, tmp_path)
    await sink.start()  # a new process: reclaims the dead one's write-ahead files, spilled ones included
    try:
        assert await sink.replay() == 300
    finally:
        await sink.close()
    assert set(store.rows) == {f"r{i}" for i in range(300)}
