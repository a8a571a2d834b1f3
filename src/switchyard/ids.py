"""Request ids: UUIDv4 strings from the operating system's CSPRNG (`os.urandom`, getrandom(2) on Linux).

Server-made ids must be unpredictable, not only unique: a caller who could predict the next id could choose it
as its own `Helicone-Request-Id` and occupy another request's log row before it is written. The bytes come from
`os.urandom`, 256 ids' worth per call (`_Pool`): one getrandom(2) syscall per request showed in profiles of a
busy machine (6–20 µs under the profiler); a pooled id costs ~1 µs (`python -m timeit -s "from switchyard.ids
import new_request_id" "new_request_id()"`).
"""

from __future__ import annotations

import os
import threading
from os import urandom

_BATCH = 256  # ids per getrandom(2) call


class _Pool:
    """CSPRNG bytes fetched 4 KiB at a time: the call is a syscall (~0.7 µs quiet, several µs on a busy VM, one per
    request), the slicing is not. Each 16 bytes are handed out once (under a lock: ids are also made off the
    event loop's thread), and a forked child empties the pool: it must never reuse its parent's bytes (two
    processes would make the same ids)."""

    def __init__(self) -> None:
        self.buf = b""
        self.pos = 0
        self.lock = threading.Lock()

    def take(self) -> bytes:
        with self.lock:
            if self.pos >= len(self.buf):
                self.buf = urandom(16 * _BATCH)
                self.pos = 0
            i = self.pos
            self.pos = i + 16
            return self.buf[i : i + 16]

    def clear(self) -> None:
        self.buf = b""
        self.pos = 0
        self.lock = threading.Lock()  # a lock held by another thread at fork time would never be released


_pool = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.clear)


def new_request_id() -> str:
    b = bytearray(_pool.take())
    b[6] = b[6] & 0x0F | 0x40  # version 4
    b[8] = b[8] & 0x3F | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
