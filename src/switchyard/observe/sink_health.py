"""What the request-log sink reports about failures (the health half of `LogSink`): the spool's health (logged once
when it fails and once when it recovers), repeated warnings at most every 30 s while records are at risk, records
the store rejects (kept aside on disk, never silently dropped), and the listener told of every stored batch.
Mixed into `observe.sink.LogSink`, whose state it reads (`spool`, `spool_up`, `dropped`, `on_stored`)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from .spool import Spool

log = logging.getLogger("switchyard.sink")

_NAG_EVERY = 30.0  # seconds between repeated warnings while records are at risk


class SinkHealth:
    spool: Spool
    spool_up: bool
    dropped: int
    _nagged: dict[str, float]
    on_stored: Callable[[list[dict[str, Any]]], None] | None

    def _spool_failed(self, e: OSError) -> None:
        if self.spool_up:
            self.spool_up = False
            self._nagged["risk"] = time.monotonic()
            log.error(
                "cannot write the request-log spool in %s (%s): records stay in memory (at risk) until "
                "the store or the spool recovers",
                self.spool.dir,
                e,
            )

    def _spool_ok(self) -> None:
        if not self.spool_up:
            self.spool_up = True
            log.warning("the request-log spool in %s is writable again", self.spool.dir)

    def _nag(self, kind: str, message: str) -> None:
        now = time.monotonic()
        if now - self._nagged.get(kind, -_NAG_EVERY) >= _NAG_EVERY:
            self._nagged[kind] = now
            log.error(message)

    def _reject(self, rejected: list[dict[str, Any]] | None) -> None:
        """Records the schema refuses are kept aside on disk (never silently dropped) and reported once."""
        if rejected:
            try:
                path = self.spool.write_aside(rejected, "rejected")
            except OSError as e:
                self.dropped += len(rejected)
                log.error(
                    "the store rejected %d request records and the spool failed (%s): they are lost",
                    len(rejected),
                    e,
                )
            else:
                log.error("the store rejected %d request records; kept in %s", len(rejected), path)

    def _stored(self, batch: list[dict[str, Any]], rejected: list[dict[str, Any]] | None) -> None:
        if self.on_stored is None:
            return
        if rejected:
            gone = {id(r) for r in rejected}
            batch = [r for r in batch if id(r) not in gone]
        try:
            self.on_stored(batch)
        except Exception:  # the log comes first: a failing listener is logged, never the writer's problem
            log.exception("request-log listener failed on a batch of %d records", len(batch))
