"""When and how the writer's chunks become insert batches (the batching half of `LogSink`): it waits for a fuller
batch while the records are safe in their write-ahead files (`_due`), and merges the flush ticks' chunks into
batches of up to `batch_size` (`_coalesce`). Mixed into `observe.sink.LogSink`, whose state it reads and updates.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections import deque

    from .sink import _Chunk


class SinkBatches:
    _queue: deque[dict[str, Any]]
    _chunks: deque[_Chunk]
    _batch_size: int
    _insert_delay: float
    _closing: bool
    _store_up: bool
    _write_ahead: bool
    _unsaved: int

    if TYPE_CHECKING:  # in SinkSpill

        def _load(self, chunk: _Chunk) -> list[dict[str, Any]] | None: ...

    def _due(self) -> bool:
        """Insert now, or let the write-ahead chunks grow into a fuller batch. A batch costs mostly per batch and per
        index page it touches (random request ids), so at 3,000 requests/s 50 ms batches of ~150 rows cost ~35 µs
        more CPU per row than batches of 500 (measured on this schema, bench/README.md issue 10). Waiting loses
        nothing: the records are in their write-ahead files already. Without write-ahead, or with records only in
        memory, or the store down, or at shutdown: at once."""
        if self._closing or not self._store_up or not self._write_ahead or self._unsaved:
            return True
        if len(self._queue) + sum(c.left for c in self._chunks) >= self._batch_size:
            return True
        return bool(self._chunks) and time.monotonic() - self._chunks[0].born >= self._insert_delay

    def _coalesce(self) -> None:
        """The first chunks (one per flush tick) become one of at most `batch_size` records. An insert's cost is
        mostly per batch (statements, the driver thread's round trips), so a writer that fell behind inserts full
        batches instead of a tick's worth each: at 3,600 requests/s, 50 ms ticks made batches of ~180 rows, and
        the writer (~2,000 rows/s that way) fell further behind every second."""
        first = self._chunks[0]
        while len(self._chunks) > 1 and self._store_up:
            nxt = self._chunks[1]
            if first.left + nxt.left > self._batch_size or bool(first.paths) != bool(nxt.paths):
                return
            head = first.records if first.records is not None else self._load(first)
            tail = nxt.records if nxt.records is not None else self._load(nxt)
            if head is None or tail is None:
                return
            first.records = head[first.done :] + tail[nxt.done :]
            first.size, first.done = len(first.records), 0
            first.paths += nxt.paths
            del self._chunks[1]
