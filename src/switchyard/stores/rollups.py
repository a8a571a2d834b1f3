"""Rollups and sessions, maintained by the log writer in the same transaction as the rows they count.

A batch of fresh request rows is folded in Python into one delta per (organisation, grain, bucket, dimension,
name, value) — a batch of 500 live requests touches a few hundred rollup rows — and added with one upsert per
table. Rows a replay inserts again are not fresh (the writer filters them), so nothing is counted twice.

Grains: minute buckets (kept `MINUTE_KEEP_MS`, for short ranges), hour and day buckets (kept with the log).
Latency and time to first token go into log-scale histograms (4 bins per doubling, ±9 %) for percentiles.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

from .schema import request_properties, requests
from .schema_dashboard import ROLLUP_METRICS

GRAIN_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
MINUTE_KEEP_MS = 48 * 3_600_000
TEXT_MAX = 200  # rollup names/values and session ids are capped (longer session ids are not summarised)
BINS_PER_DOUBLING = 4
_MAX_BIN = 120

_COL = {c.name: i for i, c in enumerate(requests.columns)}
_I = {k: _COL[k] for k in ("id", "org_id", "created_at", "model", "provider", "status", "cache_hit", "latency_ms",
                           "ttft_ms", "prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens",
                           "cost_usd", "cost_saved_usd", "user_id", "session_id", "session_name")}
_P = {c.name: i for i, c in enumerate(request_properties.columns)}
_N = len(ROLLUP_METRICS)
_ROLLUP_COLS = ["org_id", "grain", "dim", "bucket", "name", "value", *ROLLUP_METRICS, "first_at", "last_at"]
_SESSION_COLS = ["org_id", "session_id", "name", "user_id", "first_at", "last_at", "end_at", "requests", "errors",
                 "cost_nano", "prompt_tokens", "completion_tokens", "total_tokens", "latency_sum"]


def latency_bin(ms: float) -> int:
    if ms < 1:
        return 0
    return min(_MAX_BIN, int(math.log2(ms) * BINS_PER_DOUBLING) + 1)


def bin_value(b: int) -> float:
    """A histogram bin's representative value (its geometric middle)."""
    return 0.5 if b <= 0 else 2 ** ((b - 0.5) / BINS_PER_DOUBLING)


def nano(usd: float | None) -> int:
    return round(usd * 1e9) if usd else 0


def status_class(status: int) -> str:
    return f"{min(max(status // 100, 1), 5)}xx"


def _clip(s: Any) -> str:
    s = "" if s is None else str(s)
    return s if len(s) <= TEXT_MAX else s[:TEXT_MAX]


class Fold:
    """Accumulates deltas for rollups and sessions from request rows (tuples in `requests` column order)."""

    def __init__(self, minute_since_ms: int | None = None) -> None:
        self.minute: dict[tuple[str, int, str, str, str], list[Any]] = {}
        self.hist: dict[tuple[str, int, str, str], int] = {}
        self.sessions: dict[tuple[str, str], list[Any]] = {}
        self.minute_since = minute_since_ms if minute_since_ms is not None else now_ms() - MINUTE_KEEP_MS

    def add(self, row: Sequence[Any], props: Iterable[tuple[str, str]], sign: int = 1) -> None:
        """Count one request row (sign -1: take it out again, as a property edit does before re-adding it)."""
        g = row.__getitem__
        i = _I
        org, t, status = g(i["org_id"]), g(i["created_at"]), g(i["status"])
        minute = t - t % 60_000
        if minute < self.minute_since:  # too old for minute buckets: fold straight into its hour (fewer keys)
            minute = t - t % 3_600_000
        lat, ttft = g(i["latency_ms"]), g(i["ttft_ms"])
        err = 1 if status >= 400 else 0
        pt, ct, tt = g(i["prompt_tokens"]) or 0, g(i["completion_tokens"]) or 0, g(i["total_tokens"]) or 0
        cost = nano(g(i["cost_usd"]))
        delta = (1, err, 1 if g(i["cache_hit"]) else 0, cost, nano(g(i["cost_saved_usd"])), pt, ct,
                 g(i["cached_tokens"]) or 0, tt, lat or 0.0, 0 if lat is None else 1, ttft or 0.0,
                 0 if ttft is None else 1)
        if sign < 0:
            delta = tuple(-v for v in delta)
        keys = [("total", "", ""), ("model", _clip(g(i["model"])), ""), ("provider", _clip(g(i["provider"])), ""),
                ("status", status_class(status), "")]
        user = g(i["user_id"])
        if user:
            keys.append(("user", _clip(user), ""))
        keys.extend(("property", _clip(k), _clip(v)) for k, v in props)
        acc = self.minute
        for dim, name, value in keys:
            k = (org, minute, dim, name, value)
            cur = acc.get(k)
            if cur is None:
                acc[k] = [*delta, t, t]
            else:
                for j in range(_N):
                    cur[j] += delta[j]
                if t < cur[_N]:
                    cur[_N] = t
                if t > cur[_N + 1]:
                    cur[_N + 1] = t
        h = self.hist
        if lat is not None:
            k2 = (org, minute, "lat", str(latency_bin(lat)))
            h[k2] = h.get(k2, 0) + sign
        if ttft is not None:
            k2 = (org, minute, "ttft", str(latency_bin(ttft)))
            h[k2] = h.get(k2, 0) + sign
        sid = g(i["session_id"])
        if sid and len(sid) <= TEXT_MAX:
            end = t + int(lat or 0)
            sk = (org, sid)
            s = self.sessions.get(sk)
            if s is None:
                self.sessions[sk] = [g(i["session_name"]), user, t, t, end, sign, err * sign, cost * sign,
                                     pt * sign, ct * sign, tt * sign, (lat or 0.0) * sign]
            else:
                if t >= s[3]:
                    s[1] = user or s[1]
                s[0] = s[0] or g(i["session_name"])
                s[2], s[3], s[4] = min(s[2], t), max(s[3], t), max(s[4], end)
                for j, v in ((5, 1), (6, err), (7, cost), (8, pt), (9, ct), (10, tt), (11, lat or 0.0)):
                    s[j] += v * sign

    def rollup_rows(self) -> list[tuple[Any, ...]]:
        """Every delta at minute (recent buckets only), hour and day grain, sorted (a stable lock order)."""
        out: dict[tuple[str, str, str, int, str, str], list[Any]] = {}
        zero = [0] * _N
        items: list[tuple[tuple[str, int, str, str, str], list[Any]]] = list(self.minute.items())
        items.extend(((org, m, dim, b, ""), [c, *zero[1:], m, m]) for (org, m, dim, b), c in self.hist.items() if c)
        for (org, minute, dim, name, value), vec in items:
            for grain, width in GRAIN_MS.items():
                if grain == "m" and minute < self.minute_since:
                    continue
                k = (org, grain, dim, minute - minute % width, name, value)
                cur = out.get(k)
                if cur is None:
                    out[k] = list(vec)
                else:
                    for j in range(_N):
                        cur[j] += vec[j]
                    cur[_N] = min(cur[_N], vec[_N])
                    cur[_N + 1] = max(cur[_N + 1], vec[_N + 1])
        return [(*k, *v) for k, v in sorted(out.items())]

    def session_rows(self) -> list[tuple[Any, ...]]:
        return [(org, sid, *v) for (org, sid), v in sorted(self.sessions.items())]


def now_ms() -> int:
    return int(time.time() * 1000)


def fold(rows: Sequence[Sequence[Any]], props: Sequence[Sequence[Any]]) -> Fold:
    """`rows` in `requests` column order, `props` in `request_properties` column order (as the writer has them)."""
    by_id: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for p in props:
        by_id.setdefault((p[_P["org_id"]], p[_P["request_id"]]), []).append((p[_P["key"]], p[_P["value"]]))
    f = Fold()
    for row in rows:
        f.add(row, by_id.get((row[_I["org_id"]], row[_I["id"]]), ()))
    return f


# -- SQL ---------------------------------------------------------------------------------------------------------
_KEY = "org_id, grain, dim, bucket, name, value"


def _sets(least: str, greatest: str) -> str:
    adds = ", ".join(f"{m} = rollups.{m} + excluded.{m}" for m in ROLLUP_METRICS)
    return (f"{adds}, first_at = {least}(rollups.first_at, excluded.first_at), "
            f"last_at = {greatest}(rollups.last_at, excluded.last_at)")


def _session_sets(least: str, greatest: str) -> str:
    adds = ", ".join(f"{m} = sessions.{m} + excluded.{m}" for m in _SESSION_COLS[7:])
    return (f"{adds}, name = COALESCE(sessions.name, excluded.name), "
            f"user_id = CASE WHEN excluded.last_at >= sessions.last_at THEN COALESCE(excluded.user_id, "
            f"sessions.user_id) ELSE sessions.user_id END, first_at = {least}(sessions.first_at, excluded.first_at), "
            f"last_at = {greatest}(sessions.last_at, excluded.last_at), end_at = {greatest}(sessions.end_at, "
            f"excluded.end_at)")


def _upsert(table: str, cols: list[str], key: str, sets: str, marks: str) -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES {marks} ON CONFLICT ({key}) DO UPDATE SET {sets}"


_SQLITE_ROLLUP_SET = _sets("min", "max")
_SQLITE_SESSION_SET = _session_sets("min", "max")
_SQLITE_MAX_PARAMS = 32766


def sqlite_statements(f: Fold) -> list[tuple[str, list[Any]]]:
    out = []
    for table, cols, key, sets, rows in (
        ("rollups", _ROLLUP_COLS, _KEY, _SQLITE_ROLLUP_SET, f.rollup_rows()),
        ("sessions", _SESSION_COLS, "org_id, session_id", _SQLITE_SESSION_SET, f.session_rows()),
    ):
        one = "(" + ", ".join("?" * len(cols)) + ")"
        i, most = 0, _SQLITE_MAX_PARAMS // len(cols)
        while i < len(rows):
            size = 1 << min(len(rows) - i, most).bit_length() - 1  # power-of-two chunks: few cached statements
            chunk = rows[i : i + size]
            out.append((_upsert(table, cols, key, sets, ", ".join([one] * size)), [v for r in chunk for v in r]))
            i += size
    return out


async def apply_sqlite(conn: Any, rows: Sequence[Sequence[Any]], props: Sequence[tuple[Any, ...]]) -> None:
    """Add fresh rows to the rollups inside the writer's open transaction (`conn`: aiosqlite.Connection)."""
    if rows:
        for sql, params in sqlite_statements(fold(rows, props)):
            await conn.execute(sql, params)


def _pg_unnest(table: str, cols: list[str], types: list[str], key: str, sets: str) -> str:
    args = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 1))
    return (f"INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM unnest({args}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {sets}")


_PG_ROLLUP_TYPES = ["text", "text", "text", "bigint", "text", "text",
                    *("float8" if m in ("latency_sum", "ttft_sum") else "bigint" for m in ROLLUP_METRICS),
                    "bigint", "bigint"]
_PG_SESSION_TYPES = ["text", "text", "text", "text", *["bigint"] * 9, "float8"]
PG_ROLLUPS = _pg_unnest("rollups", _ROLLUP_COLS, _PG_ROLLUP_TYPES, _KEY, _sets("LEAST", "GREATEST"))
PG_SESSIONS = _pg_unnest("sessions", _SESSION_COLS, _PG_SESSION_TYPES, "org_id, session_id",
                         _session_sets("LEAST", "GREATEST"))


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


async def apply_postgres(conn: Any, rows: Sequence[Sequence[Any]], props: Sequence[tuple[Any, ...]]) -> None:
    """Add fresh rows to the rollups inside the writer's open transaction (`conn`: asyncpg.Connection)."""
    if not rows:
        return
    f = fold(rows, props)
    r, s = f.rollup_rows(), f.session_rows()
    if r:
        await conn.execute(PG_ROLLUPS, *_columns(r, len(_ROLLUP_COLS)))
    if s:
        await conn.execute(PG_SESSIONS, *_columns(s, len(_SESSION_COLS)))


def upsert_core(conn: Any, f: Fold) -> list[Any]:
    """The same upserts as SQLAlchemy Core statements, for paths off the hot one (migration rebuild, property
    edits); run each with `conn.execute(stmt)` on a sync or async connection."""
    from sqlalchemy import case, func
    from sqlalchemy.dialects import postgresql, sqlite

    from .schema_dashboard import rollups as rt
    from .schema_dashboard import sessions as st

    pg = conn.dialect.name == "postgresql"
    ins = postgresql.insert if pg else sqlite.insert
    least, greatest = (func.least, func.greatest) if pg else (func.min, func.max)
    out: list[Any] = []
    rows = [dict(zip(_ROLLUP_COLS, r, strict=True)) for r in f.rollup_rows()]
    for i in range(0, len(rows), 500):
        stmt = ins(rt).values(rows[i : i + 500])
        ex = stmt.excluded
        sets = {m: rt.c[m] + ex[m] for m in ROLLUP_METRICS}
        sets.update(first_at=least(rt.c.first_at, ex.first_at), last_at=greatest(rt.c.last_at, ex.last_at))
        out.append(stmt.on_conflict_do_update(index_elements=_KEY.split(", "), set_=sets))
    srows = [dict(zip(_SESSION_COLS, r, strict=True)) for r in f.session_rows()]
    for i in range(0, len(srows), 500):
        stmt = ins(st).values(srows[i : i + 500])
        ex = stmt.excluded
        sets = {m: st.c[m] + ex[m] for m in _SESSION_COLS[7:]}
        sets.update(name=func.coalesce(st.c.name, ex.name),
                    user_id=case((ex.last_at >= st.c.last_at, func.coalesce(ex.user_id, st.c.user_id)),
                                 else_=st.c.user_id),
                    first_at=least(st.c.first_at, ex.first_at), last_at=greatest(st.c.last_at, ex.last_at),
                    end_at=greatest(st.c.end_at, ex.end_at))
        out.append(stmt.on_conflict_do_update(index_elements=["org_id", "session_id"], set_=sets))
    return out


def rebuild_sync(conn: Any, org_id: str | None = None, chunk: int = 20_000) -> int:
    """Fold every logged row (of one organisation, or all) into the rollups: for the upgrade that adds them.
    `conn` is a sync SQLAlchemy connection. Returns the number of rows folded."""
    from sqlalchemy import select

    from .schema import request_properties as rp

    done, last = 0, None
    names = list(_I)  # only the columns the rollups read: the table may have more (or, mid-upgrade, fewer)
    width = len(_COL)
    while True:
        q = select(*(requests.c[n] for n in names)).order_by(requests.c.org_id, requests.c.id).limit(chunk)
        if org_id is not None:
            q = q.where(requests.c.org_id == org_id)
        if last is not None:
            q = q.where((requests.c.org_id > last[0]) | ((requests.c.org_id == last[0]) & (requests.c.id > last[1])))
        rows = []
        for r in conn.execute(q).all():
            full: list[Any] = [None] * width
            for n, v in zip(names, r, strict=True):
                full[_COL[n]] = v
            rows.append(full)
        if not rows:
            return done
        ids = [r[_I["id"]] for r in rows]
        props = []
        for p in conn.execute(select(rp.c.request_id, rp.c.org_id, rp.c.key, rp.c.value)
                              .where(rp.c.request_id.in_(ids))).all():
            full = [None] * len(_P)
            full[_P["request_id"]], full[_P["org_id"]], full[_P["key"]], full[_P["value"]] = p
            props.append(full)
        for stmt in upsert_core(conn, fold(rows, props)):
            conn.execute(stmt)
        done += len(rows)
        last = (rows[-1][_I["org_id"]], rows[-1][_I["id"]])
