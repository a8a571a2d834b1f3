"""Rollups and sessions: what the overview, users, properties and sessions pages read instead of the log.

The log writer folds each batch of fresh rows (`Fold`, cheap per row) and stores the batch's deltas in the
`rollup_journal`, in the same transaction as the rows (`rollup_journal.py`); a compactor merges journal entries
into `rollups` and `sessions` off the writer's path, and every read compacts first, so reads are exact. Rows a
replay inserts again are not fresh (the writer filters them), so nothing is counted twice.

Grains: minute buckets (kept `MINUTE_KEEP_MS`, for short ranges; not for users and property values, see
`WIDE_DIMS`), hour and day buckets (kept with the log). Latency and time to first token go into log-scale
histograms (4 bins per doubling, ±9 %) for percentiles.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from operator import add
from typing import Any

from .schema import request_properties, requests
from .schema_dashboard import ROLLUP_METRICS, WIDE_DIMS

GRAIN_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
MINUTE_KEEP_MS = 48 * 3_600_000
TEXT_MAX = 200  # rollup names/values and session ids are capped (longer session ids are not summarised)
BINS_PER_DOUBLING = 4
_MAX_BIN = 120

REQUEST_INDEX = {c.name: i for i, c in enumerate(requests.columns)}
FOLDED_INDEX = {
    k: REQUEST_INDEX[k]
    for k in (
        "id",
        "org_id",
        "created_at",
        "model",
        "provider",
        "status",
        "cache_hit",
        "latency_ms",
        "ttft_ms",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cached_tokens",
        "cost_usd",
        "cost_saved_usd",
        "user_id",
        "session_id",
        "session_name",
    )
}
PROPERTY_INDEX = {c.name: i for i, c in enumerate(request_properties.columns)}
_N = len(ROLLUP_METRICS)
ROLLUP_COLUMNS = ["org_id", "grain", "dim", "bucket", "name", "value", *ROLLUP_METRICS, "first_at", "last_at"]
SESSION_COLUMNS = [
    "org_id",
    "session_id",
    "name",
    "user_id",
    "first_at",
    "last_at",
    "end_at",
    "requests",
    "errors",
    "cost_nano",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "latency_sum",
]


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


(
    _ID,
    _ORG,
    _T,
    _MODEL,
    _PROVIDER,
    _STATUS,
    _HIT,
    _LAT,
    _TTFT,
    _PT,
    _CT,
    _TT,
    _CACHED,
    _COST,
    _SAVED,
    _USER,
    _SID,
    _SNAME,
) = FOLDED_INDEX.values()  # positions of the folded columns, in FOLDED_INDEX's order
_LOG2_BINS = BINS_PER_DOUBLING / math.log(2)


class Fold:
    """Accumulates deltas for rollups and sessions from request rows (tuples in `requests` column order).

    Cheap per row on purpose (it runs on the writer's event loop): a row appends one shared vector to the list of
    each of its keys — one key for all of total/model/provider/status, one per user and property — and the sums
    are taken once per key at the end (`compact`), by `zip`/`sum` in C."""

    def __init__(self, minute_since_ms: int | None = None) -> None:
        # (org, minute, model, provider, status class) → vectors; (org, hour, dim, name, value) → vectors
        self.narrow: dict[tuple[str, int, str, str, str], list[tuple[Any, ...]]] = {}
        self.wide: dict[tuple[str, int, str, str, str], list[tuple[Any, ...]]] = {}
        self.hist: dict[tuple[str, int, str, int], int] = {}
        self.sessions: dict[tuple[str, str], list[Any]] = {}
        self.minute_since = minute_since_ms if minute_since_ms is not None else now_ms() - MINUTE_KEEP_MS

    def add(self, row: Sequence[Any], props: Iterable[tuple[str, str]], sign: int = 1) -> None:
        """Count one request row (sign -1: take it out again, as a property edit does before re-adding it)."""
        org, t, status = row[_ORG], row[_T], row[_STATUS]
        hour = t - t % 3_600_000
        minute = t - t % 60_000 if t >= self.minute_since else hour  # old rows: straight into their hour
        lat, ttft, cost, saved = row[_LAT], row[_TTFT], row[_COST], row[_SAVED]
        err = 1 if status >= 400 else 0
        pt, ct, tt = row[_PT] or 0, row[_CT] or 0, row[_TT] or 0
        cost = round(cost * 1e9) if cost else 0
        vec: tuple[Any, ...] = (
            1,
            err,
            1 if row[_HIT] else 0,
            cost,
            round(saved * 1e9) if saved else 0,
            pt,
            ct,
            row[_CACHED] or 0,
            tt,
            lat or 0.0,
            0 if lat is None else 1,
            ttft or 0.0,
            0 if ttft is None else 1,
            t,
        )
        if sign < 0:
            vec = (*(-v for v in vec[:_N]), t)
        key = (org, minute, row[_MODEL] or "", row[_PROVIDER] or "", _CLASS[min(max(status // 100, 1), 5)])
        got = self.narrow.get(key)
        if got is None:
            self.narrow[key] = [vec]
        else:
            got.append(vec)
        wide = self.wide
        user = row[_USER]
        if user:  # users and property values have no minute buckets (WIDE_DIMS)
            wide.setdefault(
                (org, hour, "user", user if len(user) <= TEXT_MAX else user[:TEXT_MAX], ""), []
            ).append(vec)
        for name, value in props:
            wide.setdefault(
                (
                    org,
                    hour,
                    "property",
                    name if len(name) <= TEXT_MAX else name[:TEXT_MAX],
                    value if len(value) <= TEXT_MAX else value[:TEXT_MAX],
                ),
                [],
            ).append(vec)
        h = self.hist
        if lat is not None:
            k2 = (org, minute, "lat", min(_MAX_BIN, int(math.log(lat) * _LOG2_BINS) + 1) if lat >= 1 else 0)
            h[k2] = h.get(k2, 0) + sign
        if ttft is not None:
            k2 = (
                org,
                minute,
                "ttft",
                min(_MAX_BIN, int(math.log(ttft) * _LOG2_BINS) + 1) if ttft >= 1 else 0,
            )
            h[k2] = h.get(k2, 0) + sign
        sid = row[_SID]
        if sid and len(sid) <= TEXT_MAX:
            self._session(
                org,
                sid,
                row[_SNAME],
                user,
                t,
                t + int(lat or 0),
                (sign, err * sign, cost * sign, pt * sign, ct * sign, tt * sign, (lat or 0.0) * sign),
            )

    def _session(
        self, org: str, sid: str, name: str | None, user: str | None, t: int, end: int, sums: tuple[Any, ...]
    ) -> None:
        s = self.sessions.get((org, sid))
        if s is None:
            self.sessions[(org, sid)] = [name, user, t, t, end, *sums]
            return
        if t >= s[3]:
            s[1] = user or s[1]
        s[0] = s[0] or name
        s[2], s[3], s[4] = min(s[2], t), max(s[3], t), max(s[4], end)
        for j, v in enumerate(sums, 5):
            s[j] += v

    def compact(self) -> tuple[list[list[Any]], list[list[Any]]]:
        """(rollup deltas per (org, bucket, dim, name, value) with sums, first and last; session deltas): what the
        journal stores. `Deltas` expands them to grains."""
        narrow: dict[tuple[str, int, str, str, str], list[Any]] = {}
        for (org, minute, model, provider, cls), vecs in self.narrow.items():
            cols = list(zip(*vecs, strict=True))
            sums = [*map(sum, cols[:_N]), min(cols[_N]), max(cols[_N])]
            for k in (
                (org, minute, "total", "", ""),
                (org, minute, "model", _clip(model), ""),
                (org, minute, "provider", _clip(provider), ""),
                (org, minute, "status", cls, ""),
            ):
                cur = narrow.get(k)
                if cur is None:
                    narrow[k] = list(sums)
                else:
                    _merge(cur, sums)
        rows = [[*k, *v] for k, v in narrow.items()]
        for key, vecs in self.wide.items():
            if len(vecs) == 1:  # most users appear once in a batch
                v = vecs[0]
                rows.append([*key, *v, v[_N]])
            else:
                cols = list(zip(*vecs, strict=True))
                rows.append([*key, *map(sum, cols[:_N]), min(cols[_N]), max(cols[_N])])
        zero = [0] * (_N - 1)
        rows.extend(
            [org, b, dim, str(name), "", c, *zero, b, b] for (org, b, dim, name), c in self.hist.items() if c
        )
        return rows, [[org, sid, *v] for (org, sid), v in self.sessions.items()]

    def deltas(self) -> Deltas:
        return Deltas([self.compact()], self.minute_since)


class Deltas:
    """Compact deltas of one or many batches (`Fold.compact`), merged and expanded into rollup rows per grain and
    session rows, both sorted by key (a stable lock order for concurrent writers)."""

    def __init__(
        self, parts: Iterable[tuple[list[list[Any]], list[list[Any]]]], minute_since_ms: int | None = None
    ) -> None:
        self.parts = list(parts)
        since = minute_since_ms if minute_since_ms is not None else now_ms() - MINUTE_KEEP_MS
        self.minute_since = since - since % 60_000

    def rollup_rows(self) -> list[tuple[Any, ...]]:
        # first merge the parts key by key (batches of one second share most keys), then expand to grains
        merged: dict[tuple[str, int, str, str, str], list[Any]] = {}
        for rows, _ in self.parts:
            for org, bucket, dim, name, value, *vec in rows:
                k0 = (org, bucket, dim, name, value)
                cur = merged.get(k0)
                if cur is None:
                    merged[k0] = vec
                else:
                    _merge(cur, vec)
        out: dict[tuple[str, str, str, int, str, str], list[Any]] = {}
        for (org, bucket, dim, name, value), vec in merged.items():
            for grain, width in _GRAINS:
                if grain == "m" and (bucket < self.minute_since or dim in WIDE_DIMS):
                    continue
                k = (org, grain, dim, bucket - bucket % width, name, value)
                cur = out.get(k)
                if cur is None:
                    out[k] = list(vec)
                else:
                    _merge(cur, vec)
        return [(*k, *v) for k, v in sorted(out.items())]

    def session_rows(self) -> list[tuple[Any, ...]]:
        out: dict[tuple[str, str], list[Any]] = {}
        for _, sessions in self.parts:
            for org, sid, name, user, first, last, end, *sums in sessions:
                s = out.get((org, sid))
                if s is None:
                    out[(org, sid)] = [name, user, first, last, end, *sums]
                    continue
                if last >= s[3]:
                    s[1] = user or s[1]
                s[0] = s[0] or name
                s[2], s[3], s[4] = min(s[2], first), max(s[3], last), max(s[4], end)
                s[5:] = map(add, s[5:], sums)
        return [(org, sid, *v) for (org, sid), v in sorted(out.items())]


def _merge(cur: list[Any], vec: Sequence[Any]) -> None:
    """Add one rollup vector (metrics, first_at, last_at) into another, in place."""
    cur[:_N] = map(add, cur[:_N], vec[:_N])
    if vec[_N] < cur[_N]:
        cur[_N] = vec[_N]
    if vec[_N + 1] > cur[_N + 1]:
        cur[_N + 1] = vec[_N + 1]


_CLASS = {c: f"{c}xx" for c in range(1, 6)}
_GRAINS = tuple(GRAIN_MS.items())


def now_ms() -> int:
    return int(time.time() * 1000)


_P_ID, _P_ORG, _P_KEY, _P_VALUE = (
    PROPERTY_INDEX["request_id"],
    PROPERTY_INDEX["org_id"],
    PROPERTY_INDEX["key"],
    PROPERTY_INDEX["value"],
)


def fold(rows: Sequence[Sequence[Any]], props: Sequence[Sequence[Any]]) -> Fold:
    """`rows` in `requests` column order, `props` in `request_properties` column order (as the writer has them:
    usually each row's properties right after the previous row's, which is walked without a lookup table)."""
    f = Fold()
    j, n = 0, len(props)
    by_id: dict[tuple[str, str], list[tuple[str, str]]] | None = None
    for row in rows:
        rid, org = row[_ID], row[_ORG]
        mine = []
        if by_id is None:
            while j < n and props[j][_P_ID] == rid and props[j][_P_ORG] == org:
                mine.append((props[j][_P_KEY], props[j][_P_VALUE]))
                j += 1
            if not mine and j < n:  # not in row order after all: from here on, look them up by request
                by_id = {}
                for p in props[j:]:
                    by_id.setdefault((p[_P_ORG], p[_P_ID]), []).append((p[_P_KEY], p[_P_VALUE]))
        if by_id is not None:
            mine = by_id.get((org, rid), [])
        f.add(row, mine)
    return f
