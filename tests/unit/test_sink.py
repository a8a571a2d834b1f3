"""observe/sink.py + observe/spool.py against an in-memory store that is idempotent on the record id (as the
real stores are), and that can be switched down (StoreUnavailable) and up again."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from switchyard.observe.sink import LogSink
from switchyard.observe.spool import Spool
from switchyard.stores.base import StoreUnavailable


class FakeStore:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.inserted: collections.Counter[str] = collections.Counter()  # successful inserts per id
        self.batches: list[int] = []  # sizes of successful insert calls
        self.attempts = 0  # insert calls, failed ones included
        self.down = False
        self.fail_after: int | None = None  # go down after this many more successful inserts
        self.error: Exception | None = None  # raise this (not StoreUnavailable) on insert

    async def ping(self) -> None:
        await asyncio.sleep(0)
        if self.down:
            raise StoreUnavailable("connection refused")

    async def insert_requests(self, records: list[dict[str, Any]]) -> None:
        self.attempts += 1
        await asyncio.sleep(0)  # let concurrent work interleave, as real I/O would
        if self.error is not None:
            raise self.error
        if self.fail_after is not None:
            if self.fail_after == 0:
                self.down = True
            self.fail_after -= 1
        if self.down:
            raise StoreUnavailable("connection refused")
        self.batches.append(len(records))
        for r in records:
            self.inserted[r["id"]] += 1
            self.rows.setdefault(r["id"], r)


def records(n: int) -> list[dict[str, Any]]:
    return [{"id": str(uuid.uuid4()), "org_id": "org-1", "status": 200, "n": i, "properties": {"k": "v"}}
            for i in range(n)]


def spooled_records(spool: Spool) -> list[dict[str, Any]]:
    return [r for p in spool.pending() for r in spool.read(p)]


def make_sink(store: FakeStore, directory: Path, **kw: Any) -> LogSink:
    kw.setdefault("flush_interval", 3600)  # background loops only run when a test starts them
    kw.setdefault("replay_interval", 3600)
    return LogSink(store, Spool(directory), **kw)


async def eventually(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- store up --------------------------------------------------------------------------------------------


async def test_close_writes_queued_records_in_batches(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, batch_size=3)
    recs = records(7)
    for r in recs:
        sink.submit(r)
    assert sink.backlog == 7 and store.rows == {}, "submit must not do I/O"
    await sink.close()
    assert store.batches == [3, 3, 1]
    assert [store.rows[r["id"]] for r in recs] == recs
    assert sink.written == 7 and sink.spooled == 0 and sink.backlog == 0
    assert sink.spool.pending() == []


async def test_background_writer_delivers_in_batches(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, batch_size=4, flush_interval=0.01)
    await sink.start()
    try:
        recs = records(10)
        for r in recs:
            sink.submit(r)
        await eventually(lambda: len(store.rows) == 10)
        assert all(size <= 4 for size in store.batches)
        assert set(store.inserted.values()) == {1}
    finally:
        await sink.close()
    assert sink.spool.pending() == []


# -- store down, spool, replay ---------------------------------------------------------------------------


async def test_store_down_spools_and_replay_delivers_each_record_once(tmp_path: Path) -> None:
    store = FakeStore()
    store.down = True
    sink = make_sink(store, tmp_path, batch_size=2)
    recs = records(5)
    for r in recs:
        sink.submit(r)
    await sink.close()
    assert store.rows == {} and sink.backlog == 0
    assert sink.spooled == 5 and not sink.store_up
    assert sorted(r["id"] for r in spooled_records(sink.spool)) == sorted(r["id"] for r in recs)

    assert await sink.replay() == 0, "replay must not insert while the store is down"
    assert len(spooled_records(sink.spool)) == 5

    store.down = False
    assert await sink.replay() == 5
    assert await sink.replay() == 0
    assert sink.store_up
    assert [store.rows[r["id"]] for r in recs] == recs
    assert dict(store.inserted) == {r["id"]: 1 for r in recs}
    assert sink.spool.pending() == [] and list(tmp_path.iterdir()) == []


async def test_after_a_failure_batches_go_straight_to_the_spool(tmp_path: Path) -> None:
    store = FakeStore()
    store.down = True
    sink = make_sink(store, tmp_path, batch_size=1)
    for r in records(4):
        sink.submit(r)
    await sink.close()
    assert store.attempts == 1, "while the store is known to be down, no batch should wait on it"
    assert len(spooled_records(sink.spool)) == 4


async def test_concurrent_replays_insert_each_record_once(tmp_path: Path) -> None:
    store = FakeStore()
    writer = Spool(tmp_path)
    recs = records(12)
    for i in range(0, 12, 3):
        writer.write(recs[i : i + 3])
    a = make_sink(store, tmp_path, batch_size=2)
    b = make_sink(store, tmp_path, batch_size=2)  # e.g. a second worker on the same directory
    done = await asyncio.gather(a.replay(), b.replay(), a.replay())
    assert sum(done) == 12
    assert dict(store.inserted) == {r["id"]: 1 for r in recs}
    assert list(tmp_path.iterdir()) == []


async def test_replay_interrupted_by_an_outage_resumes_later(tmp_path: Path) -> None:
    store = FakeStore()
    recs = records(6)
    Spool(tmp_path).write(recs)
    sink = make_sink(store, tmp_path, batch_size=2)
    store.fail_after = 1  # the first batch of the file goes in, then the store drops
    assert await sink.replay() == 0
    assert not sink.store_up
    assert len(sink.spool.pending()) == 1, "the interrupted file goes back to the spool"
    store.down, store.fail_after = False, None
    assert await sink.replay() == 6
    assert set(store.rows) == {r["id"] for r in recs}  # one row each (the store is idempotent)
    assert sink.spool.pending() == [] and list(tmp_path.iterdir()) == []


async def test_background_replay_after_recovery(tmp_path: Path) -> None:
    store = FakeStore()
    store.down = True
    sink = make_sink(store, tmp_path, batch_size=2, flush_interval=0.01, replay_interval=0.01)
    await sink.start()
    try:
        recs = records(5)
        for r in recs:
            sink.submit(r)
        await eventually(lambda: sink.spooled == 5)
        assert store.rows == {}
        store.down = False
        await eventually(lambda: len(store.rows) == 5 and not sink.spool.pending())
        assert sink.store_up
        more = records(3)
        for r in more:
            sink.submit(r)
        await eventually(lambda: len(store.rows) == 8)
    finally:
        await sink.close()
    assert set(store.inserted.values()) == {1}


# -- queue full ------------------------------------------------------------------------------------------


async def test_full_queue_overflows_to_the_spool_in_one_batch(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, queue_size=2, batch_size=10)
    recs = records(5)
    for r in recs:
        sink.submit(r)  # never blocks, never drops: 2 queued, 3 held for the disk
    assert sink.backlog == 5 and sink.spooled == 0
    await sink.close()
    assert sink.spooled == 3 and len(sink.spool.pending()) == 1, "the overflow is written as one file (one fsync)"
    assert [r["id"] for r in spooled_records(sink.spool)] == [r["id"] for r in recs[2:]]
    assert set(store.rows) == {r["id"] for r in recs[:2]}
    assert await sink.replay() == 3
    assert dict(store.inserted) == {r["id"]: 1 for r in recs}


async def test_submit_after_close_goes_to_the_spool(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path)
    await sink.close()
    (r,) = records(1)
    sink.submit(r)
    assert spooled_records(sink.spool) == [r]


async def test_close_drains_to_the_store(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, batch_size=100, flush_interval=3600)
    await sink.start()
    recs = records(20)
    for r in recs:
        sink.submit(r)
    await sink.close()
    assert set(store.rows) == {r["id"] for r in recs} and sink.spool.pending() == []


# -- restart ---------------------------------------------------------------------------------------------


async def test_spool_survives_a_restart(tmp_path: Path) -> None:
    down = FakeStore()
    down.down = True
    first = make_sink(down, tmp_path, batch_size=2)
    recs = records(5)
    for r in recs:
        first.submit(r)
    await first.close()
    del first

    store = FakeStore()  # a new process: new Spool, new sink, same directory
    second = make_sink(store, tmp_path)
    await second.start()
    try:
        assert await second.replay() == 5
    finally:
        await second.close()
    assert [store.rows[r["id"]] for r in recs] == recs
    assert list(tmp_path.iterdir()) == []


async def test_stale_claims_of_dead_processes_are_reclaimed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    dead, live = records(3), records(2)
    dead_file = spool.write(dead)
    live_file = spool.write(live)
    assert dead_file is not None and live_file is not None
    dead_claim = dead_file.with_suffix(f".claimed-{dead_pid()}")
    os.replace(dead_file, dead_claim)
    live_claim = live_file.with_suffix(f".claimed-{os.getpid()}")  # being replayed by a live worker
    os.replace(live_file, live_claim)

    store = FakeStore()
    sink = make_sink(store, tmp_path)
    await sink.start()  # reclaims stale files
    try:
        assert not dead_claim.exists() and live_claim.exists()
        assert await sink.replay() == 3
    finally:
        await sink.close()
    assert set(store.rows) == {r["id"] for r in dead}
    assert live_claim.exists()


# -- spool -----------------------------------------------------------------------------------------------


def test_spool_write_read_round_trip(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "nested" / "spool")
    recs = [*records(3), {"id": "x", "body": "ünïcödé \n newline", "none": None, "f": 1.5}]
    path = spool.write(recs)
    assert path is not None and spool.pending() == [path]
    assert spool.read(path) == recs
    assert spool.write([]) is None
    assert not any(p.name.endswith(".tmp") for p in spool.dir.iterdir())


def test_spool_pending_is_in_write_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    paths = [spool.write(records(1)) for _ in range(5)]
    assert spool.pending() == paths


def test_claim_is_exclusive_and_release_returns_the_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    path = spool.write(records(2))
    assert path is not None
    claimed = spool.claim(path)
    assert claimed is not None and spool.pending() == []
    assert spool.claim(path) is None
    spool.release(claimed)
    assert spool.pending() == [path]


# -- bugs ------------------------------------------------------------------------------------------------


async def test_unexpected_store_error_loses_no_record(tmp_path: Path) -> None:
    store = FakeStore()
    store.error = RuntimeError("unexpected")
    sink = make_sink(store, tmp_path, batch_size=3)
    for r in records(3):
        sink.submit(r)
    with contextlib.suppress(RuntimeError):
        await sink.close()
    assert len(store.rows) + len(spooled_records(sink.spool)) == 3


async def test_corrupt_spool_file_does_not_block_replay(tmp_path: Path) -> None:
    store = FakeStore()
    spool = Spool(tmp_path)
    (tmp_path / "00000000000000000000-1-0.jsonl").write_bytes(b'{"id": "truncated...\n')  # sorts first
    good = records(3)
    spool.write(good)
    sink = make_sink(store, tmp_path)
    await sink.replay()
    assert set(store.rows) == {r["id"] for r in good}
