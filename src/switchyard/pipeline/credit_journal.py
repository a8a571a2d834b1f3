"""A crash journal for credit holds: what a killed process still owed the ledger, applied by the next one.

Each reservation, settlement and release appends one JSON line to this process's journal file
(`<owner>.jsonl` in the spool's `credits/` folder, 0600) with a plain write(): once it returns the kernel has the
line, so a SIGKILL loses none (a power cut may lose the last ones: there is no fsync). The live process only
appends; when the file grows past `compact_bytes` it is rewritten with the holds still open.

A journal whose process is dead is replayed by the next process on the same spool (at start, then with every
credit sweep): each hold ends the way the journal says, a settlement with its recorded cost, a release, and a
hold with neither (its call never answered) is released. Settle and release are idempotent on the reservation id,
so replaying one that already landed does nothing. Then the file is deleted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from ..observe.spool import owner, owner_alive

Entry = dict[str, Any]  # {"op": "reserve" | "settle" | "release", "org": ..., "rid": ..., "cost"?, "req"?}


class CreditJournal:
    def __init__(self, directory: Path, *, compact_bytes: int = 1 << 20) -> None:
        self.dir = directory
        self.path = directory / f"{owner()}.jsonl"
        self._fd: int | None = None
        self._size = 0
        self._compact_bytes = compact_bytes
        self.open: dict[str, Entry] = {}  # reservation id → its last entry, until the store has applied it

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(self._fd, data)
        self._size += len(data)

    def record(self, entry: Entry) -> None:
        """Append one entry (OSError if the disk refuses: the hold is then covered by the expiry sweep only)."""
        self.open[entry["rid"]] = entry
        self._write(orjson.dumps(entry) + b"\n")

    def applied(self, rid: str) -> None:
        """The store has applied this hold's settlement or release."""
        self.open.pop(rid, None)
        if self._size >= self._compact_bytes:
            with contextlib.suppress(OSError):
                self._compact()

    def _compact(self) -> None:
        data = b"".join(orjson.dumps(e) + b"\n" for e in self.open.values())
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._size = len(data)

    def close(self) -> None:
        """At a clean shutdown: nothing open → no file left; otherwise the next process finishes the rest."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not self.open:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def orphans(self) -> list[tuple[Path, list[Entry]]]:
        """Journals of dead processes, each as the final entry of every hold it recorded."""
        out = []
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for path in sorted(self.dir.glob("*.jsonl")):
                if path == self.path or owner_alive(path.stem):
                    continue
                out.append((path, list(_final(path).values())))
        return out


def _final(path: Path) -> dict[str, Entry]:
    last: dict[str, Entry] = {}
    for line in path.read_bytes().splitlines():
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a torn last line: that entry was never acted on
        if isinstance(entry, dict) and isinstance(entry.get("rid"), str):
            last[entry["rid"]] = entry
    return last
