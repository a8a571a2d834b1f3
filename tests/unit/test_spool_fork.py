"""A forked child is another process to the spool: its claims carry a token of its own (observe/spool.py), so a
pre-forked worker (or the test suite's forked gateways, support/serve_fork.py) never takes another's claims for its
own."""

from __future__ import annotations

import os

from switchyard.observe import spool


def test_a_forked_child_draws_its_own_token() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only report its owner name, then leave without running anything of pytest's
        os.write(write, spool.owner().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    child_pid, child_token = child.split("-")
    parent_pid, parent_token = spool.owner().split("-")
    assert child_pid == str(pid) and parent_pid == str(os.getpid())
    assert child_token != parent_token
