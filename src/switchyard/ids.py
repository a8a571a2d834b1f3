"""Request ids: UUIDv4 strings from a per-process PRNG seeded by the OS.

`uuid.uuid4()` costs a getrandom() syscall per call (measured ~15 µs on these VMs, a visible share of the hot
path). Request ids need uniqueness, not secrecy, so a Mersenne Twister seeded with 256 bits from the OS is
enough; every process (and every fork) reseeds.
"""

from __future__ import annotations

import os
import random

_rng = random.Random(os.urandom(32))
_pid = os.getpid()


def new_request_id() -> str:
    global _rng, _pid
    if os.getpid() != _pid:  # forked: never share a sequence with the parent
        _rng, _pid = random.Random(os.urandom(32)), os.getpid()
    n = (_rng.getrandbits(128) & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
