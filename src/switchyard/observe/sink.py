"""The durable request-log sink: never blocks a response, never drops a record.

`submit` appends to a bounded in-memory queue (O(1), no I/O). A writer task drains it in batches. When the
store fails, the batch goes to the on-disk spool and the store is marked down; while it is down, new batches go
straight to the spool, and a replay loop re-inserts spooled files once a ping succeeds. When the queue is full,
`submit` spools the record synchronously (a small append) rather than drop it. `close` drains everything.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

from ..stores.base import StoreUnavailable
from .spool import Spool

log = logging.getLogger("switchyard.sink")


class LogSink:
    def __init__(self, store: Any, spool: Spool, *, queue_size: int = 20_000, batch_size: int = 500,
                 flush_interval: float = 0.2, replay_interval: float = 1.0) -> None:
        self._store = store
        self.spool = spool
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._overflow: list[dict[str, Any]] = []
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._replay_interval = replay_interval
        self._wake = asyncio.Event()
        self._closing = False
        self._store_up = True
        self._tasks: list[asyncio.Task[None]] = []
        self.written = 0
        self.spooled = 0

    @property
    def store_up(self) -> bool:
        return self._store_up

    @property
    def backlog(self) -> int:
        return len(self._queue) + len(self._overflow)

    def _spill(self) -> None:
        """Records that found the queue full go to disk, one file (one fsync) per batch; replay inserts them."""
        if self._overflow:
            batch, self._overflow = self._overflow, []
            self.spool.write(batch)
            self.spooled += len(batch)

    async def start(self) -> None:
        self.spool.reclaim_stale()
        self._tasks = [
            asyncio.create_task(self._writer(), name="switchyard-log-writer"),
            asyncio.create_task(self._replayer(), name="switchyard-log-replay"),
        ]

    def submit(self, record: dict[str, Any]) -> None:
        if self._closing:
            self.spool.write([record])
            self.spooled += 1
            return
        if len(self._queue) >= self._queue_size:
            self._overflow.append(record)  # the writer moves these to the disk spool in batches
            self._wake.set()
            return
        self._queue.append(record)
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    async def close(self) -> None:
        """Drain: everything queued reaches the store, or the spool if the store is down."""
        self._closing = True
        self._wake.set()
        writer, replayer = self._tasks or (None, None)
        if replayer is not None:
            replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await replayer
        if writer is not None:
            await writer  # it sees `_closing`, finishes its batch and returns (never cancelled mid-write)
        self._spill()
        while self._queue:
            await self._flush(self._take())

    def _take(self) -> list[dict[str, Any]]:
        n = min(self._batch_size, len(self._queue))
        return [self._queue.popleft() for _ in range(n)]

    async def _writer(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            self._wake.clear()
            self._spill()
            while self._queue:
                await self._flush(self._take())
                self._spill()

    async def _flush(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        if self._store_up:
            try:
                self._reject(await self._store.insert_requests(batch))
                self.written += len(batch)
                return
            except StoreUnavailable as e:
                log.warning("request log store unavailable, spooling to disk: %s", e)
                self._store_up = False
            except asyncio.CancelledError:
                self.spool.write(batch)  # cancelled mid-write: the rows may or may not be in; replay is idempotent
                self.spooled += len(batch)
                raise
            except Exception:  # a bug must not lose the batch or kill the writer: keep it on disk for replay
                log.exception("unexpected error writing %d request records; spooled for replay", len(batch))
        self.spool.write(batch)
        self.spooled += len(batch)

    def _reject(self, rejected: list[dict[str, Any]] | None) -> None:
        """Records the schema refuses are kept aside on disk (never silently dropped) and reported once."""
        if rejected:
            path = self.spool.write_aside(rejected, "rejected")
            log.error("the store rejected %d request records; kept in %s", len(rejected), path)

    async def _replayer(self) -> None:
        while True:
            await asyncio.sleep(self._replay_interval)
            await self.replay()

    async def replay(self) -> int:
        """Re-insert spooled files if the store answers. Returns the number of records replayed."""
        pending = self.spool.pending()
        if not pending and self._store_up:
            return 0
        try:
            await self._store.ping()
        except StoreUnavailable:
            self._store_up = False
            return 0
        self._store_up = True
        done = 0
        for path in pending:
            claimed = self.spool.claim(path)
            if claimed is None:
                continue
            try:
                records = self.spool.read(claimed)
            except (ValueError, OSError) as e:  # unreadable (e.g. a torn or corrupt file): keep it aside, go on
                log.error("spool file %s is unreadable (%s); moved to %s", path.name, e,
                          self.spool.set_aside(claimed, "corrupt"))
                continue
            try:
                for i in range(0, len(records), self._batch_size):
                    self._reject(await self._store.insert_requests(records[i : i + self._batch_size]))
            except StoreUnavailable:
                self.spool.release(claimed)
                self._store_up = False
                return done
            except asyncio.CancelledError:
                self.spool.release(claimed)
                raise
            except Exception:
                log.exception("unexpected error replaying %s; it stays queued", path.name)
                self.spool.release(claimed)
                return done
            claimed.unlink()
            done += len(records)
            self.written += len(records)
        return done
