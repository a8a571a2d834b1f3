"""Request ids: UUIDv4 strings from the operating system's CSPRNG (`os.urandom`, getrandom(2) on Linux).

Server-made ids must be unpredictable, not only unique: a caller who could predict the next id could choose it
as its own `Helicone-Request-Id` and occupy another request's log row before it is written. The bytes come from
`os.urandom`, 256 ids' worth per call (`_Pool`): one getrandom(2) syscall per request showed in profiles of a
busy machine (6–20 µs under the profiler). The 256 ids are also written out together (`_batch`: a few C-level
operations per batch instead of six slices and a format per id): an id costs ~4.8k instructions with its share
of the batch, against ~12k when each was formatted on its own (valgrind, `new_request_id()` in a loop).
"""

from __future__ import annotations

import os
import threading
from os import urandom

_BATCH = 256  # ids per getrandom(2) call
_ID = 36  # characters of an id: "xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx"
# where the 32 hex digits of an id's 16 bytes go in its text (the dashes between them stay)
_SPOTS = (*range(0, 8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36))
_VERSION = 14  # the high digit of byte 6: 4 (UUID version 4)
_VARIANT = 19  # the high digit of byte 8: its top two bits are 10 (RFC 4122), so 0-f become 8, 9, a, b
_VARIANT_DIGIT = bytes.maketrans(b"0123456789abcdef", b"89ab89ab89ab89ab")


def _batch() -> list[str]:
    """_BATCH fresh ids: id i is bytes 16i..16i+15 of one urandom call, as `str(uuid.UUID(bytes=..., version=4))`
    writes them. The ids sit in one buffer 37 characters apart (an id and a space), filled column by column."""
    digits = urandom(16 * _BATCH).hex().encode()  # digit j of id i at 32i + j
    out = bytearray(b"-" * _ID + b" ") * _BATCH  # character p of id i at 37i + p
    for j, spot in enumerate(_SPOTS):
        out[spot :: _ID + 1] = digits[j::32]
    out[_VERSION :: _ID + 1] = b"4" * _BATCH
    out[_VARIANT :: _ID + 1] = digits[16::32].translate(_VARIANT_DIGIT)
    return out.decode("ascii").split()


class _Pool:
    """Ids made _BATCH at a time: the CSPRNG call is a syscall (~0.7 µs quiet, several µs on a busy VM, one per
    request), the rest is cheaper made together. Each id is handed out once (under a lock: ids are also made off
    the event loop's thread), and a forked child empties the pool: it must never reuse its parent's ids (two
    processes would make the same ids)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()

    def take(self) -> str:
        with self.lock:
            if not self.ids:
                self.ids = _batch()
            return self.ids.pop()

    def clear(self) -> None:
        self.ids = []
        self.lock = threading.Lock()  # a lock held by another thread at fork time would never be released


_pool = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.clear)


def new_request_id() -> str:
    return _pool.take()
