"""On-disk spool for request records the store could not take (down, slow, or queue full).

Each batch is one JSON-lines file written to a temporary name and renamed into place, so a crash never leaves a
half-written batch visible. Replay claims a file by renaming it (safe with several workers on one directory),
inserts it (inserts are idempotent on the request id), then deletes it.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson


class Spool:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._seq = itertools.count()

    def write(self, records: Iterable[dict[str, Any]]) -> Path | None:
        data = b"".join(orjson.dumps(r) + b"\n" for r in records)
        if not data:
            return None
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq)}"
        tmp = self.dir / f".{name}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        final = self.dir / f"{name}.jsonl"
        os.replace(tmp, final)
        return final

    def set_aside(self, claimed: Path, folder: str) -> Path:
        """Move a file that can never be inserted (unreadable, or rejected by the schema) out of the queue, kept."""
        target = self.dir / folder
        target.mkdir(exist_ok=True)
        dest = target / (claimed.name.split(".", 1)[0] + ".jsonl")
        os.replace(claimed, dest)
        return dest

    def write_aside(self, records: Iterable[dict[str, Any]], folder: str) -> Path | None:
        data = b"".join(orjson.dumps(r) + b"\n" for r in records)
        if not data:
            return None
        target = self.dir / folder
        target.mkdir(exist_ok=True)
        path = target / f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq)}.jsonl"
        path.write_bytes(data)
        return path

    def pending(self) -> list[Path]:
        return sorted(self.dir.glob("*.jsonl"))

    def claim(self, path: Path) -> Path | None:
        claimed = path.with_suffix(f".claimed-{os.getpid()}")
        try:
            os.replace(path, claimed)
        except FileNotFoundError:
            return None  # another worker took it
        return claimed

    def release(self, claimed: Path) -> None:
        """Give a claimed file back (its insert failed)."""
        os.replace(claimed, claimed.with_suffix(".jsonl"))

    def reclaim_stale(self) -> None:
        """Files claimed by a process that died before finishing go back to the queue."""
        for p in self.dir.glob("*.claimed-*"):
            pid = p.suffix.rsplit("-", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                os.replace(p, p.with_suffix(".jsonl"))

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
