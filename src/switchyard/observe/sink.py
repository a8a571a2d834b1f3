"""The request-log sink: never blocks a response; loses a record only in the bounded cases named below.

`submit` appends to an in-memory queue (O(1), no I/O). Every `flush_interval` (sooner when a batch is full) a
timer takes the whole queue and writes it to a write-ahead file in the spool (no fsync: once written, the kernel
has it, so a killed process loses nothing); the writer task inserts those records into the store in batches once
a batch is full or the oldest has waited `insert_delay` (an insert costs mostly per batch), then deletes the files. A killed process leaves its write-ahead files behind; the next start (or a sibling worker) replays them.
When the store fails, the batch's file is handed to the replay queue and the store is marked down; a replay
loop re-inserts spooled files once a ping succeeds (inserts are idempotent on the request id).

When the spool fails too (disk full, permission denied, the directory replaced by a file), records stay in
memory and the writer retries with backoff (up to `max_backoff`), logging and exporting how many are at risk.
Memory is bounded twice. Beyond `memory_records` records in memory, the newest chunks whose write-ahead file
exists drop their records and are read back from that file when their turn comes (`SinkSpill`, sink_spill.py): a
writer that falls behind holds files, not dicts. Beyond `queue_size` records held (in memory or spilled), the
newest go to the replay queue; when that is impossible, new records are dropped and counted (`dropped`). The writer and replay tasks are supervised:
an unexpected exception is logged, counted and the task restarted. `close` drains for at most `drain_timeout`
and never raises.

What can be lost, and is counted or bounded: records submitted in the last `flush_interval` before a SIGKILL
(or all records not yet inserted if `write_ahead` is off); records dropped because memory was full while the
disk was failing; records still unsaved when the drain deadline passes at shutdown. A power cut can also lose
write-ahead files that were not fsynced (spooled batches are).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..stores.base import StoreUnavailable
from .sink_batches import SinkBatches
from .sink_health import SinkHealth
from .sink_replay import SinkReplay
from .sink_spill import SinkSpill
from .spool import Spool

log = logging.getLogger("switchyard.sink")


@dataclass(slots=True)
class _Chunk:
    records: list[dict[str, Any]] | None  # None: spilled, only in its write-ahead files (sink_spill.py)
    paths: list[Path]  # its write-ahead files (one per flush tick coalesced into it); empty: only in memory
    size: int  # records in the chunk
    born: float = 0.0  # time.monotonic() when it was taken from the queue
    done: int = 0  # records from the front already in the store

    @property
    def left(self) -> int:
        return self.size - self.done


class LogSink(SinkHealth, SinkReplay, SinkSpill, SinkBatches):
    """The queue, its write-ahead files and the writer; failure reporting in `SinkHealth` (sink_health.py), the
    replay of spooled files in `SinkReplay` (sink_replay.py), the memory bound in `SinkSpill` (sink_spill.py), when
    and how chunks become insert batches in `SinkBatches` (sink_batches.py)."""

    def __init__(
        self,
        store: Any,
        spool: Spool,
        *,
        queue_size: int = 20_000,
        memory_records: int = 1_000,
        batch_size: int = 500,
        flush_interval: float = 0.05,
        insert_delay: float = 0.25,
        replay_interval: float = 1.0,
        write_ahead: bool = True,
        drain_timeout: float = 10.0,
        max_backoff: float = 5.0,
    ) -> None:
        self._store = store
        self.spool = spool
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._chunks: collections.deque[_Chunk] = collections.deque()  # taken from the queue, not yet stored
        self._delivering: _Chunk | None = None  # the chunk being inserted (never moved under the writer)
        self._unsaved = 0  # records in _chunks that are in neither the store nor the spool
        self._queue_size = queue_size
        self._memory_records = memory_records
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._insert_delay = insert_delay
        self._replay_interval = replay_interval
        self._write_ahead = write_ahead
        self._drain_timeout = drain_timeout
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._closing = False
        self._closed = False
        self._deadline = float("inf")
        self._store_up = True
        self.spool_up = True
        self._nagged: dict[str, float] = {}  # warning kind → when last logged
        self._tasks: list[asyncio.Task[None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self.written = 0  # records inserted
        self.spooled = 0  # records handed to the replay queue on disk
        self.overflowed = 0  # of those, records moved to disk because more than `queue_size` were held
        self.spilled = 0  # records whose memory was freed because their write-ahead file holds them
        self.dropped = 0  # records lost: memory full while the disk failed, or unsaved at the drain deadline
        self.restarts = 0  # writer or replay task restarts after an unexpected exception
        # called with each batch once it is in the store (webhooks' outbox); must be quick and must not block
        self.on_stored: Callable[[list[dict[str, Any]]], None] | None = None

    @property
    def store_up(self) -> bool:
        return self._store_up

    @property
    def backlog(self) -> int:
        """Records not yet in the store (in memory, or spilled: only in their write-ahead files)."""
        return len(self._queue) + sum(c.left for c in self._chunks)

    @property
    def at_risk(self) -> int:
        """Records only in memory, in neither the store nor a file: a SIGKILL now loses these."""
        return len(self._queue) + self._unsaved

    async def start(self) -> None:
        with contextlib.suppress(OSError):
            self.spool.reclaim_stale()
        self._tasks = [
            asyncio.create_task(self._supervise(self._writer, "writer"), name="switchyard-log-writer"),
            asyncio.create_task(self._supervise(self._replayer, "replay"), name="switchyard-log-replay"),
        ]
        self._arm()

    def submit(self, record: dict[str, Any]) -> None:
        if self._closed:
            self._spool_now([record])
            return
        if len(self._queue) >= self._queue_size:
            self._journal()  # the timer is late (a stalled loop): write ahead now, a rare synchronous write
        if len(self._queue) + self._unsaved >= self._queue_size:
            self.dropped += 1
            self._nag(
                "drop",
                f"request-log memory is full ({self._queue_size} records) and the spool is failing: "
                f"{self.dropped} records dropped so far",
            )
            return
        self._queue.append(record)
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    async def close(self) -> None:
        """Drain: everything queued reaches the store, or the spool if the store is down. Never raises; records
        still unsaved after `drain_timeout` are logged and counted as dropped."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        self._deadline = asyncio.get_running_loop().time() + self._drain_timeout
        self._wake.set()
        writer, replayer = self._tasks or (None, None)
        if replayer is not None:
            replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await replayer
        if writer is not None:
            await writer  # it sees `_closing`, drains and returns (never cancelled mid-write)
        else:
            await self._supervise(self._writer, "writer")
        self._closed = True

    # -- supervision -----------------------------------------------------------------------------------------

    async def _supervise(self, run: Callable[[], Awaitable[None]], what: str) -> None:
        delay = 0.1
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.restarts += 1
                log.exception("request-log %s task failed; restarting it in %.1fs", what, delay)
            if self._closing and asyncio.get_running_loop().time() >= self._deadline:
                self._give_up()
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)

    # -- writer ----------------------------------------------------------------------------------------------

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._flush_interval, self._tick)

    def _tick(self) -> None:
        """Every `flush_interval`, on a timer rather than in the writer task: a store that takes seconds to
        answer an insert must not widen the window in which a killed process loses records."""
        try:
            self._journal()
        except Exception:
            self.restarts += 1
            log.exception("request-log write-ahead failed")
        finally:
            if not self._closing:
                self._arm()
        if self._chunks:
            self._wake.set()

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.0
        while True:
            wait = backoff or self._flush_interval
            if self._closing:
                if not self._queue and not self._chunks:
                    return
                if loop.time() >= self._deadline:
                    self._give_up()
                    return
                wait = min(backoff, self._deadline - loop.time())
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            self._journal()
            if not self._due():
                continue
            if await self._cycle():
                backoff = 0.0
            else:
                backoff = min(max(backoff * 2, 0.1), self._max_backoff)
                self._nag(
                    "risk",
                    f"request-log store and spool both failing: {self.at_risk} records only in memory "
                    f"(at risk); retrying in {backoff:.1f}s",
                )

    async def _cycle(self) -> bool:
        """Journal the queue, then store (or spool) every chunk. False when a chunk could go nowhere."""
        self._journal()
        while self._chunks:
            self._coalesce()
            chunk = self._delivering = self._chunks[0]
            try:
                if not await self._deliver(chunk):
                    return False
            finally:
                self._delivering = None
            if self._chunks and self._chunks[0] is chunk:  # the timer never moves the chunk being delivered
                self._chunks.popleft()
        return True

    def _journal(self) -> None:
        """Queue → one chunk, on disk first when write-ahead is on; then keep memory within `queue_size`."""
        if self._queue:
            records = list(self._queue)
            self._queue.clear()
            path = None
            if self._write_ahead:
                try:
                    path = self.spool.write_ahead(records)
                except OSError as e:
                    self._spool_failed(e)
                except (
                    Exception
                ):  # a bug must not lose the records: they stay in memory, retried by the writer
                    log.exception("unexpected error writing ahead %d request records", len(records))
                else:
                    self._spool_ok()
            self._chunks.append(
                _Chunk(records, [path] if path is not None else [], len(records), time.monotonic())
            )
            if path is None:
                self._unsaved += len(records)
        held = sum(c.left for c in self._chunks)
        for chunk in reversed(list(self._chunks)):  # the newest first
            if held < self._queue_size:
                break
            if chunk is self._delivering:
                continue
            if not self._save(chunk):
                return
            self._chunks.remove(chunk)
            held -= chunk.left
            self.overflowed += chunk.left
        self._spill()

    async def _deliver(self, chunk: _Chunk) -> bool:
        while self._store_up and chunk.left:
            records = chunk.records if chunk.records is not None else self._load(chunk)
            if records is None:
                return False  # the file cannot be read now: retried with backoff
            if not chunk.left:
                break  # its file was gone: counted as dropped
            batch = records[chunk.done : chunk.done + self._batch_size]
            try:
                rejected = await self._store.insert_requests(batch)
                self._reject(rejected)
            except StoreUnavailable as e:
                log.warning("request log store unavailable, spooling to disk: %s", e)
                self._store_up = False
                break
            except asyncio.CancelledError:
                self._save(chunk)  # rows may or may not be in: replay is idempotent
                raise
            except Exception:  # a bug must not lose the batch: keep it on disk for replay
                log.exception("unexpected error writing %d request records; spooled for replay", len(batch))
                break
            chunk.done += len(batch)
            self.written += len(batch)
            self._stored(batch, rejected)
            if not chunk.paths:
                self._unsaved -= len(batch)
        if chunk.left:
            return self._save(chunk)
        for path in chunk.paths:
            try:
                self.spool.done(path)
            except OSError as e:  # left behind: a later replay inserts nothing new from it
                log.warning("cannot delete write-ahead file %s: %s", path.name, e)
        return True

    def _save(self, chunk: _Chunk) -> bool:
        """A chunk's remaining records go to the replay queue on disk. False if the disk refuses."""
        if chunk.paths:
            try:
                while chunk.paths:  # committed files leave the list: a retry commits only the rest
                    self.spool.commit(chunk.paths[0])
                    chunk.paths.pop(0)
            except OSError as e:
                if chunk.paths[0].exists():
                    self._spool_failed(e)
                    return False
                # a file is gone (the directory was removed or replaced): the records left go to a new file
                # (those also in an already committed file are replayed twice: replay is idempotent)
                chunk.paths = []
                if chunk.records is None:  # spilled: its records were only in that file
                    self._lost(chunk, e)
                    return True
                self._unsaved += chunk.left
            else:
                self.spooled += chunk.left
                self._spool_ok()
                return True
        try:
            self.spool.write(chunk.records[chunk.done :] if chunk.records is not None else ())
        except OSError as e:
            self._spool_failed(e)
            return False
        self.spooled += chunk.left
        self._unsaved -= chunk.left
        self._spool_ok()
        return True

    def _spool_now(self, records: list[dict[str, Any]]) -> None:
        try:
            self.spool.write(records)
            self.spooled += len(records)
        except OSError as e:
            self.dropped += len(records)
            log.error("request record submitted after shutdown lost: the spool failed (%s)", e)

    def _give_up(self) -> None:
        lost = self.at_risk
        if lost:
            self.dropped += lost
            log.error(
                "shutdown: %d request records reached neither the store nor the spool in %.0fs and are lost",
                lost,
                self._drain_timeout,
            )
        self._queue.clear()
        self._chunks.clear()  # write-ahead files stay on disk, claimed by this process: the next start replays them
        self._unsaved = 0
