"""The sink's memory bound (the spill half of `LogSink`): beyond `memory_records` records in memory, the newest
chunks that are safe in a write-ahead file give up their records, and the writer reads them back from that file
when their turn comes. A writer that falls behind (a saturated loop, a slow store) then holds file names, not
request dicts (~3 KB each): peak RSS stays flat however far behind it is, and nothing is less durable — a spilled
chunk is exactly as safe as before, in its write-ahead file, claimed by this process (a killed process's files are
replayed by the next; a graceful close still drains them). Mixed into `observe.sink.LogSink`, whose state it reads.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections import deque

    from .sink import _Chunk
    from .spool import Spool

log = logging.getLogger("switchyard.sink")


class SinkSpill:
    spool: Spool
    dropped: int
    spilled: int
    _memory_records: int
    _queue: deque[dict[str, Any]]
    _chunks: deque[_Chunk]
    _delivering: _Chunk | None

    def _spill(self) -> None:
        """Free the newest chunks' records until at most `memory_records` are in memory. Never the front chunk
        (delivered next, and the only one coalesced or partly stored) and never a chunk without a write-ahead file."""
        held = len(self._queue) + sum(c.left for c in self._chunks if c.records is not None)
        if held <= self._memory_records:
            return
        for chunk in reversed(list(self._chunks)[1:]):
            if held <= self._memory_records:
                return
            if chunk.records is None or not chunk.paths or chunk.done or chunk is self._delivering:
                continue
            chunk.records = None
            held -= chunk.size
            self.spilled += chunk.size

    def _load(self, chunk: _Chunk) -> list[dict[str, Any]] | None:
        """A spilled chunk's records, read back from its write-ahead files. None: not readable now (retried later);
        a file that is gone (the spool directory removed under us) loses its records, counted as dropped."""
        try:
            records = [r for path in chunk.paths for r in self.spool.read(path)]
        except FileNotFoundError as e:
            self._lost(chunk, e)
            return chunk.records
        except (OSError, ValueError) as e:
            log.warning("cannot read back %d spilled request records yet: %s", chunk.left, e)
            return None
        chunk.records = records
        chunk.size = len(records)
        return records

    def _lost(self, chunk: _Chunk, reason: Exception) -> None:
        self.dropped += chunk.left
        log.error("%d spilled request records lost: their write-ahead file is gone (%s)", chunk.left, reason)
        chunk.records, chunk.paths, chunk.size, chunk.done = [], [], 0, 0
