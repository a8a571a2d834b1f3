"""Adding rollup deltas (`rollups.Deltas`) to the `rollups` and `sessions` tables: multi-row upserts on SQLite,
one unnest upsert per table on PostgreSQL, SQLAlchemy Core statements for the paths off the hot one, and the
rebuild from logged rows that the 0005 upgrade runs."""

from __future__ import annotations

from typing import Any

from .rollups import (
    FOLDED_INDEX,
    PROPERTY_INDEX,
    REQUEST_INDEX,
    ROLLUP_COLUMNS,
    SESSION_COLUMNS,
    Deltas,
    fold,
)
from .schema import requests
from .schema_dashboard import ROLLUP_METRICS

_KEY = "org_id, grain, dim, bucket, name, value"


def _sets(least: str, greatest: str) -> str:
    adds = ", ".join(f"{m} = rollups.{m} + excluded.{m}" for m in ROLLUP_METRICS)
    return (
        f"{adds}, first_at = {least}(rollups.first_at, excluded.first_at), "
        f"last_at = {greatest}(rollups.last_at, excluded.last_at)"
    )


def _session_sets(least: str, greatest: str) -> str:
    adds = ", ".join(f"{m} = sessions.{m} + excluded.{m}" for m in SESSION_COLUMNS[7:])
    return (
        f"{adds}, name = COALESCE(sessions.name, excluded.name), "
        f"user_id = CASE WHEN excluded.last_at >= sessions.last_at THEN COALESCE(excluded.user_id, "
        f"sessions.user_id) ELSE sessions.user_id END, first_at = {least}(sessions.first_at, excluded.first_at), "
        f"last_at = {greatest}(sessions.last_at, excluded.last_at), end_at = {greatest}(sessions.end_at, "
        f"excluded.end_at)"
    )


def _upsert(table: str, cols: list[str], key: str, sets: str, marks: str) -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES {marks} ON CONFLICT ({key}) DO UPDATE SET {sets}"


_SQLITE_ROLLUP_SET = _sets("min", "max")
_SQLITE_SESSION_SET = _session_sets("min", "max")
_SQLITE_MAX_PARAMS = 32766


def sqlite_statements(f: Deltas) -> list[tuple[str, list[Any]]]:
    out = []
    for table, cols, key, sets, rows in (
        ("rollups", ROLLUP_COLUMNS, _KEY, _SQLITE_ROLLUP_SET, f.rollup_rows()),
        ("sessions", SESSION_COLUMNS, "org_id, session_id", _SQLITE_SESSION_SET, f.session_rows()),
    ):
        one = "(" + ", ".join("?" * len(cols)) + ")"
        i, most = 0, _SQLITE_MAX_PARAMS // len(cols)
        while i < len(rows):
            size = (
                1 << min(len(rows) - i, most).bit_length() - 1
            )  # power-of-two chunks: few cached statements
            chunk = rows[i : i + size]
            out.append(
                (_upsert(table, cols, key, sets, ", ".join([one] * size)), [v for r in chunk for v in r])
            )
            i += size
    return out


def _pg_unnest(table: str, cols: list[str], types: list[str], key: str, sets: str) -> str:
    args = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 1))
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM unnest({args}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {sets}"
    )


_PG_ROLLUP_TYPES = [
    "text",
    "text",
    "text",
    "bigint",
    "text",
    "text",
    *("float8" if m in ("latency_sum", "ttft_sum") else "bigint" for m in ROLLUP_METRICS),
    "bigint",
    "bigint",
]
_PG_SESSION_TYPES = ["text", "text", "text", "text", *["bigint"] * 9, "float8"]
PG_ROLLUPS = _pg_unnest("rollups", ROLLUP_COLUMNS, _PG_ROLLUP_TYPES, _KEY, _sets("LEAST", "GREATEST"))
PG_SESSIONS = _pg_unnest(
    "sessions", SESSION_COLUMNS, _PG_SESSION_TYPES, "org_id, session_id", _session_sets("LEAST", "GREATEST")
)


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


async def upsert_postgres(conn: Any, d: Deltas) -> None:
    """Add deltas to rollups and sessions on an asyncpg connection (inside the caller's transaction)."""
    r, s = d.rollup_rows(), d.session_rows()
    if r:
        await conn.execute(PG_ROLLUPS, *_columns(r, len(ROLLUP_COLUMNS)))
    if s:
        await conn.execute(PG_SESSIONS, *_columns(s, len(SESSION_COLUMNS)))


def upsert_core(conn: Any, f: Deltas) -> list[Any]:
    """The same upserts as SQLAlchemy Core statements, for paths off the hot one (migration rebuild, property
    edits); run each with `conn.execute(stmt)` on a sync or async connection."""
    from sqlalchemy import case, func

    from .dialect_insert import insert_for
    from .schema_dashboard import rollups as rt
    from .schema_dashboard import sessions as st

    pg = conn.dialect.name == "postgresql"
    ins = insert_for(conn.dialect.name)
    least, greatest = (func.least, func.greatest) if pg else (func.min, func.max)
    out: list[Any] = []
    rows = [dict(zip(ROLLUP_COLUMNS, r, strict=True)) for r in f.rollup_rows()]
    for i in range(0, len(rows), 500):
        stmt = ins(rt).values(rows[i : i + 500])
        ex = stmt.excluded
        sets = {m: rt.c[m] + ex[m] for m in ROLLUP_METRICS}
        sets.update(first_at=least(rt.c.first_at, ex.first_at), last_at=greatest(rt.c.last_at, ex.last_at))
        out.append(stmt.on_conflict_do_update(index_elements=_KEY.split(", "), set_=sets))
    srows = [dict(zip(SESSION_COLUMNS, r, strict=True)) for r in f.session_rows()]
    for i in range(0, len(srows), 500):
        stmt = ins(st).values(srows[i : i + 500])
        ex = stmt.excluded
        sets = {m: st.c[m] + ex[m] for m in SESSION_COLUMNS[7:]}
        sets.update(
            name=func.coalesce(st.c.name, ex.name),
            user_id=case(
                (ex.last_at >= st.c.last_at, func.coalesce(ex.user_id, st.c.user_id)), else_=st.c.user_id
            ),
            first_at=least(st.c.first_at, ex.first_at),
            last_at=greatest(st.c.last_at, ex.last_at),
            end_at=greatest(st.c.end_at, ex.end_at),
        )
        out.append(stmt.on_conflict_do_update(index_elements=["org_id", "session_id"], set_=sets))
    return out


def rebuild_sync(conn: Any, org_id: str | None = None, chunk: int = 20_000) -> int:
    """Fold every logged row (of one organisation, or all) into the rollups: for the upgrade that adds them.
    `conn` is a sync SQLAlchemy connection. Returns the number of rows folded."""
    from sqlalchemy import select

    from .schema import request_properties as rp

    done, last = 0, None
    names = list(
        FOLDED_INDEX
    )  # only the columns the rollups read: the table may have more (or, mid-upgrade, fewer)
    width = len(REQUEST_INDEX)
    while True:
        q = select(*(requests.c[n] for n in names)).order_by(requests.c.org_id, requests.c.id).limit(chunk)
        if org_id is not None:
            q = q.where(requests.c.org_id == org_id)
        if last is not None:
            q = q.where(
                (requests.c.org_id > last[0]) | ((requests.c.org_id == last[0]) & (requests.c.id > last[1]))
            )
        rows = []
        for r in conn.execute(q).all():
            full: list[Any] = [None] * width
            for n, v in zip(names, r, strict=True):
                full[REQUEST_INDEX[n]] = v
            rows.append(full)
        if not rows:
            return done
        ids = [r[FOLDED_INDEX["id"]] for r in rows]
        props = []
        for p in conn.execute(
            select(rp.c.request_id, rp.c.org_id, rp.c.key, rp.c.value).where(rp.c.request_id.in_(ids))
        ).all():
            full = [None] * len(PROPERTY_INDEX)
            (
                full[PROPERTY_INDEX["request_id"]],
                full[PROPERTY_INDEX["org_id"]],
                full[PROPERTY_INDEX["key"]],
                full[PROPERTY_INDEX["value"]],
            ) = p
            props.append(full)
        for stmt in upsert_core(conn, fold(rows, props).deltas()):
            conn.execute(stmt)
        done += len(rows)
        last = (rows[-1][FOLDED_INDEX["org_id"]], rows[-1][FOLDED_INDEX["id"]])
