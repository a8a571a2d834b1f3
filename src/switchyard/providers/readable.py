"""Whether a socket has something to read right now (a FIN, a reset, stray bytes), without waiting: the pool's
check of an idle connection before reusing it (`http1_connection.Connection.stale`).

`select.poll` releases the GIL around its system call, even with a zero timeout. On the event loop's thread, at
saturation, that hands the GIL to whichever thread is waiting for it (the log writer's), and the loop then waits
for it back: a hand-over per request, for a call that never blocks. libc's `poll` called through
`ctypes.PyDLL` keeps the GIL. Where libc cannot be loaded that way, `select.poll` is used.
"""

from __future__ import annotations

import ctypes
import select

_EVENTS = select.POLLIN | select.POLLPRI


class _PollFd(ctypes.Structure):
    _fields_ = (("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short))


def _libc_poll() -> object | None:
    try:
        poll = ctypes.PyDLL(None).poll  # PyDLL: the GIL is held during the call
    except (OSError, AttributeError):
        return None
    poll.argtypes = (ctypes.POINTER(_PollFd), ctypes.c_ulong, ctypes.c_int)
    poll.restype = ctypes.c_int
    return poll


_poll = _libc_poll()


def readable(fd: int) -> bool:
    """True when `fd` is readable or in error now (poll with a zero timeout)."""
    if _poll is None:
        poller = select.poll()
        poller.register(fd, _EVENTS)
        return bool(poller.poll(0))
    pfd = _PollFd(fd, _EVENTS, 0)
    return _poll(ctypes.byref(pfd), 1, 0) != 0  # type: ignore[operator]
