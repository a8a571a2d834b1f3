"""Replay of spooled request records (the replay half of `LogSink`): a loop that, once a second, re-inserts the
spool's files when the store answers (inserts are idempotent on the request id), claims the files of a sibling
worker that died, and notices a spool directory removed or replaced under the sink (its write-ahead files are then
counted at risk). Mixed into `observe.sink.LogSink`, whose state it reads and updates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..stores.base import StoreUnavailable

if TYPE_CHECKING:
    from collections import deque

    from .sink import _Chunk
    from .spool import Spool

log = logging.getLogger("switchyard.sink")


class SinkReplay:
    spool: Spool
    written: int
    _store: Any
    _store_up: bool
    _wake: asyncio.Event
    _batch_size: int
    _replay_interval: float
    _chunks: deque[_Chunk]
    _unsaved: int

    if TYPE_CHECKING:  # in SinkHealth

        def _spool_failed(self, e: OSError) -> None: ...
        def _reject(self, rejected: list[dict[str, Any]] | None) -> None: ...
        def _stored(self, batch: list[dict[str, Any]], rejected: list[dict[str, Any]] | None) -> None: ...
        def _lost(self, chunk: _Chunk, reason: Exception) -> None: ...

    async def _replayer(self) -> None:
        while True:
            await asyncio.sleep(self._replay_interval)
            self._check_spool()
            await self.replay()

    def _check_spool(self) -> None:
        """A spool directory removed or replaced under us takes our write-ahead files with it: count them at risk."""
        if self.spool.dir.is_dir():
            return
        for chunk in self._chunks:
            if chunk.paths and not all(p.exists() for p in chunk.paths):
                if chunk.records is None:  # spilled: its records were only in those files
                    self._lost(chunk, FileNotFoundError(str(self.spool.dir)))
                    continue
                chunk.paths = []
                self._unsaved += chunk.left
        try:
            self.spool.ensure()  # recreates a removed directory; a file in its place stays an error
        except OSError as e:
            self._spool_failed(e)

    async def replay(self) -> int:
        """Re-insert spooled files if the store answers. Returns the number of records replayed."""
        try:
            self.spool.reclaim_stale()  # files of a sibling worker that died
            pending = self.spool.pending()
        except OSError as e:
            self._spool_failed(e)
            pending = []
        if not pending and self._store_up:
            return 0
        try:
            await self._store.ping()
        except StoreUnavailable:
            self._store_up = False
            return 0
        if not self._store_up:
            self._store_up = True
            self._wake.set()  # records held in memory can go now
        done = 0
        for path in pending:
            try:
                claimed = self.spool.claim(path)
            except OSError as e:
                self._spool_failed(e)
                return done
            if claimed is None:
                continue
            n = await self._replay_file(path, claimed)
            if n is None:
                return done
            done += n
        return done

    async def _replay_file(self, path: Path, claimed: Path) -> int | None:
        """Insert one claimed file. None: stop this round (the store failed; the file is queued again)."""
        try:
            records = self.spool.read(claimed)
        except (ValueError, OSError) as e:  # unreadable (e.g. a torn or corrupt file): keep it aside, go on
            with contextlib.suppress(OSError):
                log.error(
                    "spool file %s is unreadable (%s); moved to %s",
                    path.name,
                    e,
                    self.spool.set_aside(claimed, "corrupt"),
                )
            return 0
        try:
            for i in range(0, len(records), self._batch_size):
                batch = records[i : i + self._batch_size]
                rejected = await self._store.insert_requests(batch)
                self._reject(rejected)
                self._stored(batch, rejected)
        except StoreUnavailable:
            self.spool.release(claimed)
            self._store_up = False
            return None
        except asyncio.CancelledError:
            self.spool.release(claimed)
            raise
        except Exception:
            log.exception("unexpected error replaying %s; it stays queued", path.name)
            self.spool.release(claimed)
            return None
        self.spool.done(claimed)
        self.written += len(records)
        return len(records)
