"""On-disk spool for request records: write-ahead files of the live writer, and batches awaiting replay.

Each batch is one JSON-lines file written to a temporary name and renamed into place, so a crash never leaves a
half-written batch visible. Files named `*.jsonl` wait for replay; replay claims one by renaming it to
`*.claimed-<pid>-<token>` (safe with several workers on one directory), inserts it (inserts are idempotent on the
request id), then deletes it. The live writer's write-ahead files are born claimed by their process: a process
killed before it inserted them leaves them claimed, and `reclaim_stale` gives them back to the queue.

Files are private: the directory is created 0700 and every file 0600 (records hold prompts and answers).
Every method may raise OSError (disk full, permission denied, the directory replaced by a file); the sink
decides what to do about it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

_TOKEN = secrets.token_hex(4)  # tells this process's claims apart from a dead process that had the same pid


def _redraw_token() -> None:
    """A forked child (a preforking server, or the test suite's forkserver) is another process: its own token."""
    global _TOKEN
    _TOKEN = secrets.token_hex(4)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_redraw_token)


def owner() -> str:
    """This process, as it names its files: "<pid>-<token>"."""
    return f"{os.getpid()}-{_TOKEN}"


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)


class Spool:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._seq = itertools.count()
        self._claim = f".claimed-{owner()}"
        # a broken spool must not stop the gateway from serving: every write retries it (and the sink says so)
        with contextlib.suppress(OSError):
            _private_dir(self.dir)

    def ensure(self) -> None:
        """Create the directory if it is missing (OSError if it cannot be, e.g. a file is in its place)."""
        _private_dir(self.dir)

    def _name(self) -> str:
        return f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq)}"

    def _put(self, data: Sequence[bytes], final: Path, *, sync: bool) -> Path:
        if not self.dir.is_dir():
            _private_dir(self.dir)  # removed while running: recreate (a file in its place raises)
        tmp = self.dir / f".{final.name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, data)
            if sync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        os.close(fd)
        os.replace(tmp, final)
        return final

    def write(self, records: Iterable[dict[str, Any]]) -> Path | None:
        """A batch for replay, fsynced (it survives a power cut, not just a crash)."""
        data = _encode(records)
        if not data:
            return None
        return self._put(data, self.dir / f"{self._name()}.jsonl", sync=True)

    def write_ahead(self, records: Iterable[dict[str, Any]]) -> Path | None:
        """A batch this process is about to insert, already claimed by it and not fsynced: once `write` returns,
        the kernel holds it, so a killed process loses nothing (a power cut may). `commit` hands it to replay,
        `done` deletes it."""
        data = _encode(records)
        if not data:
            return None
        return self._put(data, self.dir / (self._name() + self._claim), sync=False)

    def commit(self, ahead: Path) -> Path:
        """A write-ahead file becomes a batch for replay (fsynced first)."""
        fd = os.open(ahead, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        final = ahead.with_suffix(".jsonl")
        os.replace(ahead, final)
        return final

    @staticmethod
    def done(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def set_aside(self, claimed: Path, folder: str) -> Path:
        """Move a file that can never be inserted (unreadable, or rejected by the schema) out of the queue, kept."""
        target = self.dir / folder
        _private_dir(target)
        dest = target / (claimed.name.split(".", 1)[0] + ".jsonl")
        os.replace(claimed, dest)
        return dest

    def write_aside(self, records: Iterable[dict[str, Any]], folder: str) -> Path | None:
        data = _encode(records)
        if not data:
            return None
        target = self.dir / folder
        _private_dir(target)
        path = target / f"{self._name()}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        return path

    def pending(self) -> list[Path]:
        return sorted(self.dir.glob("*.jsonl"))

    def claim(self, path: Path) -> Path | None:
        claimed = path.with_suffix(self._claim)
        try:
            os.replace(path, claimed)
        except FileNotFoundError:
            return None  # another worker took it
        return claimed

    def release(self, claimed: Path) -> None:
        """Give a claimed file back (its insert failed)."""
        os.replace(claimed, claimed.with_suffix(".jsonl"))

    def reclaim_stale(self) -> int:
        """Files claimed by a process that died before finishing (replay claims, write-ahead files) go back to
        the queue. Returns how many."""
        n = 0
        for p in self.dir.glob("*.claimed-*"):
            who = p.suffix[len(".claimed-") :]
            if who != self._claim[len(".claimed-") :] and not owner_alive(who):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(p, p.with_suffix(".jsonl"))
                    n += 1
        return n

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        with path.open("rb") as f:  # line by line: no buffer the size of the file (see _encode)
            return [orjson.loads(line) for line in f if line.strip()]


def _write_all(fd: int, pieces: Sequence[bytes]) -> None:
    for piece in pieces:
        view = memoryview(piece)
        while view:  # os.write may write less than it is given
            view = view[os.write(fd, view) :]


_PIECE = 64 * 1024  # bytes of JSON lines joined into one write at most


def _encode(records: Iterable[dict[str, Any]]) -> list[bytes]:
    """The records as JSON lines, in pieces of about `_PIECE` bytes (empty: no records). A flush tick under load
    holds hundreds of kilobytes of records: written as one buffer, each tick's would be a block above glibc's
    mmap threshold, which then rises to its size, and later ones fragment the heap instead (a serving process
    grew ~6 MB more under load that way). Each line is its own exact-size copy: orjson's output keeps the buffer
    it grew (at least 4 kB)."""
    pieces: list[bytes] = []
    lines: list[bytes] = []
    size = 0
    for r in records:
        line = orjson.dumps(r) + b"\n"
        lines.append(line)
        size += len(line)
        if size >= _PIECE:
            pieces.append(b"".join(lines))
            lines, size = [], 0
    if lines:
        pieces.append(b"".join(lines))
    return pieces


def owner_alive(owner: str) -> bool:
    """`owner` is "<pid>-<token>" (or "<pid>" from older versions). Our own pid with another token is a dead
    process whose pid we reuse (containers restart with the same pid)."""
    pid_s, _, token = owner.partition("-")
    if not pid_s.isdigit():
        return True  # not ours to judge
    pid = int(pid_s)
    if pid == os.getpid():
        return token == _TOKEN
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
