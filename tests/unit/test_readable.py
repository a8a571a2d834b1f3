"""The pool's zero-wait readability check (providers/readable.py), both ways it can be made."""

from __future__ import annotations

import socket

import pytest

from switchyard.providers import readable as mod


@pytest.fixture(params=["libc", "select"])
def readable(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    if request.param == "select":
        monkeypatch.setattr(mod, "_poll", None)
    else:
        assert mod._poll is not None  # Linux: libc's poll is used
    return mod.readable


def test_quiet_then_data_then_fin_then_reset(readable) -> None:
    a, b = socket.socketpair()
    try:
        assert not readable(a.fileno())  # an idle connection with nothing to read
        b.send(b"x")
        assert readable(a.fileno())  # stray bytes
        a.recv(1)
        assert not readable(a.fileno())
        b.close()
        assert readable(a.fileno())  # the peer's FIN
    finally:
        a.close()


def test_a_closed_descriptor_is_not_reported_readable_by_mistake(readable) -> None:
    a, b = socket.socketpair()
    fd = a.fileno()
    a.close()
    b.close()
    assert readable(fd)  # POLLNVAL: never "fine to reuse"
