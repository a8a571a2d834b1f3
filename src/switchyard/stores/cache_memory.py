"""In-process response-cache backend: an LRU bounded by entry count AND stored bytes, with per-entry expiry.

Used when `redis.url` is unset. Both bounds matter: a count alone lets a few huge answers eat the heap, bytes
alone let millions of tiny ones bloat the dict. Expired entries are dropped when read, and otherwise age out
through the LRU order, so no sweeper task is needed. Bytes counted are the stored values' lengths.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence


class MemoryCache:
    def __init__(self, max_entries: int, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._data: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # key → (value, expires at)
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def _drop(self, key: str) -> None:
        value, _ = self._data.pop(key)
        self._bytes -= len(value)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = self._clock()
        out: list[bytes | None] = []
        data = self._data
        for key in keys:
            item = data.get(key)
            if item is None:
                out.append(None)
            elif item[1] <= now:
                self._drop(key)
                out.append(None)
            else:
                data.move_to_end(key)
                out.append(item[0])
        return out

    async def set(self, key: str, value: bytes, ttl_ms: int) -> None:
        if ttl_ms <= 0 or len(value) > self.max_bytes:
            return
        if key in self._data:
            self._drop(key)
        self._data[key] = (value, self._clock() + ttl_ms / 1000)
        self._bytes += len(value)
        while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._data)))

    async def close(self) -> None:
        self._data.clear()
        self._bytes = 0
