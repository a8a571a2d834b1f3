"""The pool's readability check with a connection's own `pollfd` structure, made once and reused for every check
(providers/readable.py `pollfd_for`): each check sees the socket's state now, never a previous check's."""

from __future__ import annotations

import socket

from switchyard.providers import readable as mod


def test_one_pollfd_reused_across_checks_follows_the_socket() -> None:
    a, b = socket.socketpair()
    try:
        pfd = mod.pollfd_for(a.fileno())
        assert pfd is not None  # Linux: libc's poll is used
        assert not mod.readable(a.fileno(), pfd)
        assert not mod.readable(a.fileno(), pfd)  # twice: nothing left over from the first check
        b.send(b"x")
        assert mod.readable(a.fileno(), pfd)  # stray bytes
        a.recv(1)
        assert not mod.readable(a.fileno(), pfd)  # revents of the previous check are not reported again
        b.close()
        assert mod.readable(a.fileno(), pfd)  # the peer's FIN
        assert mod.readable(a.fileno(), pfd)
    finally:
        a.close()


def test_a_reset_is_readable_through_the_reused_pollfd() -> None:
    a, b = socket.socketpair()
    try:
        pfd = mod.pollfd_for(a.fileno())
        b.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        b.close()
        assert mod.readable(a.fileno(), pfd)
    finally:
        a.close()


def test_without_libc_poll_no_pollfd_is_made(monkeypatch) -> None:
    monkeypatch.setattr(mod, "_poll", None)
    a, b = socket.socketpair()
    try:
        pfd = mod.pollfd_for(a.fileno())
        assert pfd is None
        assert not mod.readable(a.fileno(), pfd)
        b.close()
        assert mod.readable(a.fileno(), pfd)
    finally:
        a.close()
