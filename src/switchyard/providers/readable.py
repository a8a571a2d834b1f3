"""Whether a socket has something to read right now (a FIN, a reset, stray bytes), without waiting: the pool's
check of an idle connection before reusing it (`http1_connection.Connection.stale`).

`select.poll` releases the GIL around its system call, even with a zero timeout. On the event loop's thread, at
saturation, that hands the GIL to whichever thread is waiting for it (the log writer's), and the loop then waits
for it back: a hand-over per request, for a call that never blocks. libc's `poll` called through
`ctypes.PyDLL` keeps the GIL. Where libc cannot be loaded that way, `select.poll` is used.

A connection makes its `pollfd` structure once (`pollfd_for`) and passes it to every check: the call then only
converts nothing (no `argtypes`: the arguments are ctypes objects already), a third of the cost of building the
structure and converting the arguments on each check.
"""

from __future__ import annotations

import ctypes
import select
from typing import Any

_EVENTS = select.POLLIN | select.POLLPRI


class _PollFd(ctypes.Structure):
    _fields_ = (("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short))


def _libc_poll() -> object | None:
    try:
        poll = ctypes.PyDLL(None).poll  # PyDLL: the GIL is held during the call
    except (OSError, AttributeError):
        return None
    # no argtypes: every call passes ctypes objects of the prototype's types (pointer, c_ulong, c_int) as they are
    poll.restype = ctypes.c_int
    return poll


_poll = _libc_poll()
_ONE = ctypes.c_ulong(1)  # nfds
_NOW = ctypes.c_int(0)  # timeout: do not wait


def pollfd_for(fd: int) -> Any:
    """A reference to a `pollfd` structure for `fd`, to pass to every `readable` check of that socket (libc's
    poll rewrites only its `revents`). None where libc's poll is not used."""
    # byref keeps the struct alive as long as the reference is
    return ctypes.byref(_PollFd(fd, _EVENTS, 0)) if _poll is not None else None


def readable(fd: int, pollfd: Any = None) -> bool:
    """True when `fd` is readable or in error now (poll with a zero timeout). `pollfd`: `pollfd_for(fd)`, if made."""
    if _poll is None:
        poller = select.poll()
        poller.register(fd, _EVENTS)
        return bool(poller.poll(0))
    if pollfd is None:
        pollfd = ctypes.byref(_PollFd(fd, _EVENTS, 0))
    return _poll(pollfd, _ONE, _NOW) != 0  # type: ignore[operator]
