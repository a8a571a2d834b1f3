"""The request log on the SQL store: insert (see log_writer.py), query (see filters.py), get by id.

Bounded answers: a query page returns the bodies of its rows until `RequestQuery.max_body_chars` characters of
body text are spent; the rows after that come without bodies and with `bodies_omitted` set (GET by id returns
any one row whole). The bodies are only read from the database for the rows that get them, so neither the
gateway's memory nor the answer grows with `limit` × body size.

Database errors never reach the caller as a 500: a query the database refuses (anything not caught by the
filter checks) is a `FilterError` (400) that names no SQL; an unreachable database is `StoreUnavailable` (503).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, ProgrammingError

from .base import RequestQuery, StoreUnavailable
from .filters import COLUMNS, FilterError, to_sql
from .log_writer import RejectedBatch, insert_postgres, storable
from .log_writer_sqlite import SqliteLogWriter, insert_sqlite
from .schema import requests

log = logging.getLogger("switchyard.store")

_BODIES = ("request_body", "response_body")
_META = [c for c in requests.columns if c.name not in _BODIES]
_REFUSED_BY_SQLITE = ("too large", "too many", "too big", "too long")


@contextmanager
def _query_errors() -> Iterator[None]:
    """Database errors of a read → FilterError (the query is at fault) or StoreUnavailable (the database is)."""
    try:
        yield
    except (DataError, ProgrammingError, IntegrityError) as e:
        log.warning("the database refused a request-log query: %s", type(e.orig).__name__)
        raise FilterError("the database refused this query; simplify the filter") from None
    except OperationalError as e:
        if any(s in str(e.orig).lower() for s in _REFUSED_BY_SQLITE):
            log.warning("the database refused a request-log query: %s", str(e.orig)[:200])
            raise FilterError("the database refused this query as too large; simplify the filter") from None
        raise StoreUnavailable(str(e.orig)[:200]) from None
    except (OSError, DBAPIError) as e:
        raise StoreUnavailable(str(getattr(e, "orig", e))[:200]) from None


class RequestLogMixin:
    engine: Any
    dialect: str
    sqlite_log: SqliteLogWriter | None

    async def insert_requests(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert request records, idempotently on (id, org_id, uid). Returns the records no backend form could
        store (set aside by the sink); raises StoreUnavailable for failures that a later retry can fix."""
        if not records:
            return []
        try:
            await self._insert_batch(records)
            return []
        except RejectedBatch:
            pass  # some record in the batch is bad: find it, keep the others
        rejected = []
        for rec in records:
            try:
                await self._insert_batch([rec])
                continue
            except RejectedBatch as e:
                reason = str(e)[:200]
            try:  # last resort: the record cut down to what every backend accepts (see log_writer.storable)
                await self._insert_batch([storable(rec)])
                log.warning("request %s stored with its text made storable (%s)", rec.get("id"), reason)
            except RejectedBatch:
                rejected.append(rec)
        return rejected

    async def _insert_batch(self, records: Sequence[dict[str, Any]]) -> None:
        try:
            if self.sqlite_log is not None:  # a database file: its own connection and thread
                await self.sqlite_log.insert(records)
                return
            async with self.engine.connect() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                if (
                    self.dialect == "sqlite"
                ):  # in memory: only the engine's connection sees it (aiosqlite's thread)
                    await insert_sqlite(driver, records)
                else:
                    await insert_postgres(driver, records)
        except RejectedBatch:
            raise
        except (OSError, DBAPIError, sqlite3.Error) as e:
            raise StoreUnavailable(str(e)) from None
        except Exception as e:  # asyncpg's own errors (connection lost, server shutting down, ...)
            if type(e).__module__.startswith("asyncpg"):
                raise StoreUnavailable(str(e)) from None
            raise

    async def query_requests(self, q: RequestQuery) -> list[dict[str, Any]]:
        where = to_sql(q.filter)
        sizes = [func.coalesce(func.length(requests.c[b]), 0).label(f"{b}_chars") for b in _BODIES]
        stmt = (
            select(*_META, *(sizes if q.include_bodies else ()))
            .where(requests.c.org_id == q.org_id)
            .where(where)
        )
        if q.is_cached is not None:
            stmt = stmt.where(requests.c.cache_hit == q.is_cached)
        for field, direction in q.sort:
            column = COLUMNS.get(field)
            if column is None:
                raise FilterError(f"cannot sort by {field!r}")
            col = requests.c[column]
            stmt = stmt.order_by(col.asc() if direction == "asc" else col.desc())
        stmt = stmt.order_by(requests.c.id).limit(q.limit).offset(q.offset)
        with _query_errors():
            async with self.engine.connect() as conn:
                rows = [dict(r) for r in (await conn.execute(stmt)).mappings().all()]
                if q.include_bodies:
                    await self._attach_bodies(conn, q, rows)
        return [_decode(r) for r in rows]

    async def _attach_bodies(self, conn: Any, q: RequestQuery, rows: list[dict[str, Any]]) -> None:
        budget = q.max_body_chars
        chosen = []
        for r in rows:
            size = r.pop("request_body_chars") + r.pop("response_body_chars")
            if budget is not None:
                if size > budget:
                    budget = -1  # keep page order simple: once one row misses out, every later row does too
                    r["bodies_omitted"] = True
                    continue
                budget -= size
            chosen.append(r)
        for r in rows:
            r.setdefault("request_body", None)
            r.setdefault("response_body", None)
        for i in range(0, len(chosen), 200):
            part = {r["id"]: r for r in chosen[i : i + 200]}
            stmt = (
                select(requests.c.id, *(requests.c[b] for b in _BODIES))
                .where(requests.c.id.in_(list(part)))
                .where(requests.c.org_id == q.org_id)
            )
            for rid, req, resp in (await conn.execute(stmt)).all():
                part[rid]["request_body"], part[rid]["response_body"] = req, resp

    async def get_request(self, org_id: str, request_id: str) -> dict[str, Any] | None:
        stmt = select(requests).where(requests.c.id == request_id).where(requests.c.org_id == org_id)
        with _query_errors():
            async with self.engine.connect() as conn:
                row = (await conn.execute(stmt)).mappings().first()
        return _decode(dict(row)) if row else None


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row["properties"] = orjson.loads(row["properties"]) if row.get("properties") else {}
    row["attempts"] = orjson.loads(row["attempts"]) if row.get("attempts") else []
    return row
