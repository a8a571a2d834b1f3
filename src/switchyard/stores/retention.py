"""Retention: `log.retention_days` deletes logged requests (with their properties, feedback and scores), rollups and
sessions older than that, in the background and in small batches, so the writer and the pages never wait long
behind it. Minute rollups go after 48 hours whatever the setting (the pages read hours and days beyond that).

A rollup bucket goes once all of it is older than the cutoff, so the oldest kept day may still count a few
requests already deleted. Several replicas may run it at once: every delete is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select

from .rollup_journal import compact
from .rollups import GRAIN_MS, MINUTE_KEEP_MS
from .schema import request_properties as rp
from .schema import requests as q
from .schema_dashboard import DIMS
from .schema_dashboard import request_feedback as fb
from .schema_dashboard import request_scores as sc
from .schema_dashboard import rollups as r
from .schema_dashboard import sessions as s

log = logging.getLogger("switchyard.retention")


def _now() -> int:
    return int(time.time() * 1000)


async def _delete_requests(store: Any, org_id: str, cutoff: int, batch: int) -> int:
    async with store.engine.begin() as conn:
        ids = [
            x[0]
            for x in (
                await conn.execute(
                    select(q.c.id)
                    .where(q.c.org_id == org_id, q.c.created_at < cutoff)
                    .order_by(q.c.created_at)
                    .limit(batch)
                )
            ).all()
        ]
        if ids:
            for table, col in ((rp, rp.c.request_id), (fb, fb.c.request_id), (sc, sc.c.request_id)):
                await conn.execute(delete(table).where(table.c.org_id == org_id, col.in_(ids)))
            await conn.execute(delete(q).where(q.c.org_id == org_id, q.c.id.in_(ids)))
    return len(ids)


async def _delete_sessions(store: Any, org_id: str, cutoff: int, batch: int) -> int:
    async with store.engine.begin() as conn:
        sids = [
            x[0]
            for x in (
                await conn.execute(
                    select(s.c.session_id).where(s.c.org_id == org_id, s.c.last_at < cutoff).limit(batch)
                )
            ).all()
        ]
        if sids:
            await conn.execute(delete(s).where(s.c.org_id == org_id, s.c.session_id.in_(sids)))
    return len(sids)


async def _delete_rollup_bucket(store: Any, grain: str, cutoff: int, org_ids: Sequence[str] | None) -> int:
    """For each organisation and dimension, the oldest bucket of `grain` that ends before `cutoff` (one bucket
    each: small batches, found and deleted by primary-key prefix)."""
    width, gone = GRAIN_MS[grain], 0
    orgs = org_ids if org_ids is not None else [o.id for o in await store.list_orgs()]
    for org_id in orgs:
        for dim in DIMS:
            key = [r.c.org_id == org_id, r.c.grain == grain, r.c.dim == dim]
            async with store.engine.begin() as conn:
                oldest = (
                    await conn.execute(select(r.c.bucket).where(*key).order_by(r.c.bucket).limit(1))
                ).scalar()
                if oldest is None or oldest + width > cutoff:
                    continue
                res = await conn.execute(delete(r).where(*key, r.c.bucket == oldest))
                gone += res.rowcount or 1
    return gone


async def purge(
    store: Any,
    retention_days: int | None,
    *,
    now_ms: int | None = None,
    batch: int = 1000,
    pause: float = 0.0,
    max_batches: int | None = None,
    org_ids: Sequence[str] | None = None,
) -> dict[str, int]:
    """Delete everything past retention (and minute rollups past 48 h), of every organisation or of `org_ids`.
    Returns counts of what went."""
    now = _now() if now_ms is None else now_ms
    done = {"requests": 0, "sessions": 0, "rollups": 0}
    await compact(store)  # journaled deltas first, or they would bring old buckets back after the purge
    left = max_batches if max_batches is not None else 1 << 62

    async def drain(key: str, one_batch: Any) -> None:
        nonlocal left
        while left > 0:
            n = await one_batch()
            left -= 1
            done[key] += n
            if not n:
                return
            if pause:
                await asyncio.sleep(pause)

    await drain("rollups", lambda: _delete_rollup_bucket(store, "m", now - MINUTE_KEEP_MS, org_ids))
    if not retention_days:
        return done
    cutoff = now - retention_days * GRAIN_MS["d"]
    for org_id in org_ids if org_ids is not None else [o.id for o in await store.list_orgs()]:
        await drain("requests", lambda o=org_id: _delete_requests(store, o, cutoff, batch))
        await drain("sessions", lambda o=org_id: _delete_sessions(store, o, cutoff, batch))
    for grain in ("h", "d"):
        await drain("rollups", lambda g=grain: _delete_rollup_bucket(store, g, cutoff, org_ids))
    return done


class Retention:
    """The background task: a purge shortly after start, then every `interval` seconds."""

    def __init__(
        self,
        store: Any,
        retention_days: int | None,
        *,
        interval: float = 600.0,
        first_delay: float = 5.0,
        pause: float = 0.05,
    ) -> None:
        self._store, self._days = store, retention_days
        self._interval, self._first_delay, self._pause = interval, first_delay, pause
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="switchyard-retention")

    async def _loop(self) -> None:
        await asyncio.sleep(self._first_delay)
        while True:
            try:
                done = await purge(self._store, self._days, pause=self._pause)
                self.runs += 1
                if any(done.values()):
                    log.info(
                        "retention: deleted %(requests)d requests, %(sessions)d sessions, %(rollups)d "
                        "rollup rows",
                        done,
                    )
            except asyncio.CancelledError:
                raise
            except Exception:  # a store outage or a bug: try again next time, never kill the gateway
                log.exception("retention purge failed; retrying in %.0f s", self._interval)
            await asyncio.sleep(self._interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
