"""observe/sink.py + observe/spool.py against an in-memory store that is idempotent on the record id (as the
real stores are), and that can be switched down (StoreUnavailable) and up again."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import itertools
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from switchyard.observe.metrics import Metrics
from switchyard.observe.sink import LogSink
from switchyard.observe.spool import _PIECE, Spool, _encode
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
    return [
        {"id": str(uuid.uuid4()), "org_id": "org-1", "status": 200, "n": i, "properties": {"k": "v"}}
        for i in range(n)
    ]


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


async def test_full_memory_moves_records_to_the_spool_never_drops(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, queue_size=4, batch_size=100)
    recs = records(20)
    for r in recs:
        sink.submit(r)  # the writer never runs: a stalled loop, or a store that takes seconds per insert
    assert sink.dropped == 0 and sink.backlog <= 4 + 4, "memory stays bounded"
    assert sink.overflowed > 0 and sink.overflowed == sink.spooled
    await sink.close()
    assert await sink.replay() == sink.overflowed
    assert dict(store.inserted) == {r["id"]: 1 for r in recs}
    assert sink.dropped == 0 and list(tmp_path.iterdir()) == []


async def test_full_memory_without_write_ahead_spools_the_excess(tmp_path: Path) -> None:
    store = FakeStore()
    sink = make_sink(store, tmp_path, queue_size=4, batch_size=100, write_ahead=False)
    recs = records(20)
    for r in recs:
        sink.submit(r)
    assert sink.dropped == 0 and sink.backlog <= 8 and sink.at_risk <= 8
    await sink.close()
    await sink.replay()
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
    dead_claim = dead_file.with_suffix(f".claimed-{dead_pid()}-0123abcd")
    os.replace(dead_file, dead_claim)
    live_claim = spool.claim(live_file)  # being replayed by a live worker (this process)
    assert live_claim is not None
    # a process that had our pid before us (containers restart with the same pid), claim from an older version
    reused = spool.write(records(1))
    assert reused is not None
    reused_claim = reused.with_suffix(f".claimed-{os.getpid()}")
    os.replace(reused, reused_claim)

    store = FakeStore()
    sink = make_sink(store, tmp_path)
    await sink.start()  # reclaims stale files
    try:
        assert not dead_claim.exists() and not reused_claim.exists() and live_claim.exists()
        assert await sink.replay() == 4
    finally:
        await sink.close()
    assert len(store.rows) == 4 and set(store.rows) >= {r["id"] for r in dead}
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


def test_a_large_batch_is_written_in_pieces_as_json_lines(tmp_path: Path) -> None:
    """A tick's records are written in pieces of ~64 kB, never one buffer of the whole file (spool._encode)."""
    recs = [{"id": f"r{i}", "body": "x" * (100 + i % 3000)} for i in range(600)]
    pieces = _encode(recs)
    assert len(pieces) >= 3 and all(len(p) < _PIECE + 1000 for p in pieces)
    spool = Spool(tmp_path)
    for path in (spool.write(recs), spool.write_ahead(recs), spool.write_aside(recs, "aside")):
        assert path is not None
        assert path.read_bytes() == b"".join(orjson.dumps(r) + b"\n" for r in recs)
        assert spool.read(path) == recs


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


# -- the disk fails too (issue 9) ------------------------------------------------------------------------


class BrokenDisk(Spool):
    """A spool whose writes fail while `error` is set (ENOSPC, EACCES, ...), counting attempts."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.error: OSError | None = None
        self.bug: Exception | None = None  # not an OSError: a programming error in the write path
        self.attempts: list[float] = []

    def _put(self, data: bytes, final: Path, *, sync: bool) -> Path:
        self.attempts.append(time.monotonic())
        if self.bug is not None:
            raise self.bug
        if self.error is not None:
            raise self.error
        return super()._put(data, final, sync=sync)

    def commit(self, ahead: Path) -> Path:
        if self.error is not None:
            raise self.error
        return super().commit(ahead)


def scrape(sink: LogSink) -> dict[str, float]:
    m = Metrics(process=False)
    m.bind_sink(sink)
    body, _ = m.render()
    return {s.name: s.value for fam in text_string_to_metric_families(body.decode()) for s in fam.samples}


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), PermissionError(errno.EACCES, "Permission denied")],
    ids=["enospc", "eacces"],
)
async def test_store_and_disk_down_the_writer_survives_and_writes_everything_after(
    tmp_path: Path, error: OSError
) -> None:
    store = FakeStore()
    store.down = True
    disk = BrokenDisk(tmp_path)
    disk.error = error
    sink = LogSink(store, disk, flush_interval=0.01, replay_interval=0.02, max_backoff=0.05)
    await sink.start()
    try:
        recs = records(50)
        for r in recs:
            sink.submit(r)
        await eventually(lambda: len(disk.attempts) >= 5)  # it keeps retrying
        writer = sink._tasks[0]
        assert not writer.done(), "the writer must survive a spool I/O error"
        assert sink.at_risk == 50 and not sink.spool_up and sink.dropped == 0
        m = scrape(sink)
        assert m["switchyard_log_records_at_risk"] == 50 and m["switchyard_log_spool_up"] == 0

        disk.error = None  # the disk recovers first: the records go to the spool, then the store takes them
        await eventually(lambda: sink.at_risk == 0 and sink.spool_up)
        store.down = False
        await eventually(lambda: len(store.rows) == 50 and not disk.pending())
        more = records(5)
        for r in more:
            sink.submit(r)
        await eventually(lambda: len(store.rows) == 55)
    finally:
        await sink.close()
    assert dict(store.inserted) == {r["id"]: 1 for r in [*recs, *more]}
    assert sink.dropped == 0 and scrape(sink)["switchyard_log_records_at_risk"] == 0


async def test_store_recovers_while_the_disk_is_still_broken(tmp_path: Path) -> None:
    store = FakeStore()
    store.down = True
    disk = BrokenDisk(tmp_path)
    disk.error = OSError(errno.ENOSPC, "No space left on device")
    sink = LogSink(store, disk, flush_interval=0.01, replay_interval=0.02, max_backoff=0.05)
    await sink.start()
    try:
        recs = records(30)
        for r in recs:
            sink.submit(r)
        await eventually(lambda: sink.at_risk == 30)
        store.down = False  # memory → store straight away, no disk needed
        await eventually(lambda: len(store.rows) == 30)
        assert sink.at_risk == 0 and not sink._tasks[0].done()
    finally:
        await sink.close()
    assert dict(store.inserted) == {r["id"]: 1 for r in recs}


async def test_spool_directory_replaced_by_a_file(tmp_path: Path) -> None:
    store = FakeStore()
    store.down = True
    spool_dir = tmp_path / "spool"
    sink = LogSink(store, Spool(spool_dir), flush_interval=0.01, replay_interval=0.02, max_backoff=0.05)
    await sink.start()
    try:
        first = records(10)
        for r in first:
            sink.submit(r)
        await eventually(lambda: sink.spooled == 10)  # on disk, awaiting replay
        spooled = {r["id"]: r for r in spooled_records(sink.spool)}
        shutil.rmtree(spool_dir)
        spool_dir.write_text("not a directory")  # the files are gone; what comes next has nowhere to go
        second = records(20)
        for r in second:
            sink.submit(r)
        await eventually(lambda: not sink.spool_up and sink.at_risk == 20)
        assert not sink._tasks[0].done() and not sink._tasks[1].done()
        spool_dir.unlink()
        store.down = False
        await eventually(lambda: set(store.rows) == {r["id"] for r in second})
        assert sink.at_risk == 0
    finally:
        await sink.close()
    assert len(spooled) == 10  # (those 10 were lost with the directory: the operator removed them)
    assert dict(store.inserted) == {r["id"]: 1 for r in second}


async def test_writer_backs_off_exponentially(tmp_path: Path) -> None:
    store = FakeStore()
    store.down = True
    disk = BrokenDisk(tmp_path)
    disk.error = OSError(errno.ENOSPC, "No space left on device")
    sink = LogSink(store, disk, flush_interval=3600, replay_interval=3600, max_backoff=0.4)
    await sink.start()
    try:
        for r in records(3):
            sink.submit(r)
        sink._wake.set()
        await asyncio.sleep(1.6)
    finally:
        disk.error = None
        await sink.close()
    gaps = [b - a for a, b in itertools.pairwise(disk.attempts)]
    # each cycle tries the write-ahead and the spool; the waits between cycles double up to max_backoff
    assert len(disk.attempts) < 30, f"no busy loop: {len(disk.attempts)} attempts"
    assert max(gaps) >= 0.35 and max(gaps) < 0.6


async def test_memory_is_bounded_and_drops_are_counted_while_the_disk_fails(tmp_path: Path, caplog) -> None:
    store = FakeStore()
    store.down = True
    disk = BrokenDisk(tmp_path)
    disk.error = OSError(errno.ENOSPC, "No space left on device")
    sink = LogSink(store, disk, queue_size=10, flush_interval=0.01, replay_interval=0.02, max_backoff=0.05)
    await sink.start()
    try:
        for r in records(25):
            sink.submit(r)
            await asyncio.sleep(0)
        assert sink.at_risk == 10 and sink.dropped == 15
        assert sink.backlog == 10
        m = scrape(sink)
        assert m["switchyard_log_records_dropped_total"] == 15
        assert "dropped" in caplog.text and "at risk" in caplog.text
    finally:
        disk.error = None
        await sink.close()
    assert len(spooled_records(sink.spool)) == 10, "the 10 held in memory reach the disk once it recovers"


async def test_shutdown_with_store_and_disk_down_returns_in_time_and_counts_the_loss(
    tmp_path: Path, caplog
) -> None:
    store = FakeStore()
    store.down = True
    disk = BrokenDisk(tmp_path)
    disk.error = OSError(errno.ENOSPC, "No space left on device")
    sink = LogSink(
        store, disk, flush_interval=0.01, replay_interval=0.02, drain_timeout=0.3, max_backoff=0.05
    )
    await sink.start()
    for r in records(7):
        sink.submit(r)
    started = time.monotonic()
    await sink.close()  # never raises
    assert time.monotonic() - started < 2
    assert sink.dropped == 7 and "are lost" in caplog.text
    sink.submit(records(1)[0])  # after close, with the disk still full: counted, not raised
    assert sink.dropped == 8


async def test_a_bug_in_the_write_path_restarts_the_writer(tmp_path: Path) -> None:
    store = FakeStore()
    store.down = True
    disk = BrokenDisk(tmp_path)
    disk.bug = RuntimeError("a bug")
    sink = LogSink(store, disk, flush_interval=0.01, replay_interval=0.02, max_backoff=0.05)
    await sink.start()
    try:
        recs = records(10)
        for r in recs:
            sink.submit(r)
        await eventually(lambda: sink.restarts >= 2)
        assert sink.at_risk == 10
        disk.bug = None
        store.down = False
        await eventually(lambda: len(store.rows) == 10)
        assert scrape(sink)["switchyard_log_writer_restarts_total"] >= 2
    finally:
        await sink.close()


# -- SIGKILL ---------------------------------------------------------------------------------------------

_KILLED_CHILD = """
import asyncio, sys, uuid
from pathlib import Path
from switchyard.observe.sink import LogSink
from switchyard.observe.spool import _PIECE, Spool, _encode

class Hung:  # a store whose inserts never return (a locked database, a stuck network)
    async def ping(self): pass
    async def insert_requests(self, records): await asyncio.Event().wait()

async def main():
    sink = LogSink(Hung(), Spool(Path(sys.argv[1])), flush_interval=0.05, write_ahead=sys.argv[2] == "1")
    await sink.start()
    for i in range(int(sys.argv[3])):
        sink.submit({"id": f"r{i}", "org_id": "o"})
        if i % 10 == 0:
            await asyncio.sleep(0.001)
    await asyncio.sleep(0.3)  # > flush_interval
    print("ready", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def _submit_then_sigkill(directory: Path, write_ahead: bool, n: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHILD, str(directory), "1" if write_ahead else "0", str(n)],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


async def test_sigkill_loses_nothing_older_than_the_flush_interval(tmp_path: Path) -> None:
    _submit_then_sigkill(tmp_path, True, 200)
    store = FakeStore()
    sink = make_sink(store, tmp_path)
    await sink.start()  # a new process: reclaims the dead one's write-ahead files
    try:
        assert await sink.replay() == 200
    finally:
        await sink.close()
    assert set(store.rows) == {f"r{i}" for i in range(200)}


async def test_sigkill_without_write_ahead_loses_the_queue(tmp_path: Path) -> None:
    """The documented cost of `log.write_ahead: false`."""
    _submit_then_sigkill(tmp_path, False, 200)
    assert Spool(tmp_path).pending() == [] and not list(tmp_path.glob("*.claimed-*"))


# -- file modes ------------------------------------------------------------------------------------------


async def test_spool_files_and_directories_are_private(tmp_path: Path) -> None:
    store = FakeStore()
    store.down = True
    os.umask(old := os.umask(0o022))
    try:
        spool_dir = tmp_path / "home" / "spool"
        sink = make_sink(store, spool_dir)
        for r in records(3):
            sink.submit(r)
        sink._journal()
        [ahead] = list(spool_dir.glob("*.claimed-*"))
        assert stat.S_IMODE(ahead.stat().st_mode) == 0o600
        await sink.close()
        sink.spool.write_aside(records(1), "rejected")
    finally:
        os.umask(old)
    assert stat.S_IMODE(spool_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((spool_dir / "rejected").stat().st_mode) == 0o700
    files = [p for p in spool_dir.rglob("*") if p.is_file()]
    assert len(files) == 2 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    spool_dir.chmod(0o755)  # an existing directory from an older version is tightened
    Spool(spool_dir)
    assert stat.S_IMODE(spool_dir.stat().st_mode) == 0o700


async def test_a_writer_behind_inserts_full_batches_across_flush_ticks(tmp_path: Path) -> None:
    """Each flush tick makes its own write-ahead chunk; a writer that fell behind coalesces them into batches of
    up to batch_size (an insert's cost is mostly per batch), and deletes every tick's file once stored."""
    store = FakeStore()
    gate = asyncio.Event()
    insert = store.insert_requests

    async def slow_first(batch: list[dict[str, Any]]) -> None:
        await gate.wait()
        await insert(batch)

    store.insert_requests = slow_first  # type: ignore[method-assign]
    sink = make_sink(store, tmp_path / "spool", flush_interval=0.01, batch_size=100)
    await sink.start()
    sent = []
    for _ in range(12):  # 12 ticks of 30 records while the first insert is held
        batch = records(30)
        sent += batch
        for r in batch:
            sink.submit(r)
        await asyncio.sleep(0.03)
    assert len([p for p in sink.spool.dir.iterdir() if p.is_file()]) >= 10  # one write-ahead file per tick
    gate.set()
    await eventually(lambda: len(store.rows) == len(sent))
    await sink.close()
    assert all(store.inserted[r["id"]] == 1 for r in sent)
    assert max(store.batches) > 30 and all(b <= 100 for b in store.batches)
    assert len(store.batches) <= len(sent) // 30 - 4  # fewer inserts than ticks
    assert not [p for p in sink.spool.dir.iterdir() if p.is_file()]  # every tick's file deleted once stored
