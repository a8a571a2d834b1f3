"""Request ids: UUIDv4 strings from the operating system's CSPRNG (`os.urandom`, getrandom(2) on Linux).

Server-made ids must be unpredictable, not only unique: a caller who could predict the next id could choose it
as its own `Helicone-Request-Id` and occupy another request's log row before it is written. `os.urandom(16)`
costs ~0.7 µs here and the whole id ~1.4 µs (measured: `python -m timeit -s "from switchyard.ids import
new_request_id" "new_request_id()"`), less than the Mersenne Twister it replaces (2.6 µs). No state: fork-safe
and thread-safe by construction.
"""

from __future__ import annotations

from os import urandom


def new_request_id() -> str:
    b = bytearray(urandom(16))
    b[6] = b[6] & 0x0F | 0x40  # version 4
    b[8] = b[8] & 0x3F | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
