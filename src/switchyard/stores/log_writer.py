"""Bulk insert of request records: the rows, the identity rules, and the PostgreSQL insert (asyncpg); SQLite's
insert runs in a thread of its own on a sqlite3 connection of its own (log_writer_sqlite.py).

Why not SQLAlchemy Core here: its per-row parameter processing runs on the event loop, and at gateway rates it
cost ~40 µs per row — a fifth of a core at 6,000 requests/s. One statement per table per batch instead: a
multi-row INSERT on SQLite, an INSERT ... SELECT FROM unnest(arrays) on PostgreSQL.

Identity. A row is keyed by (id, org_id) and carries the record's server-made `uid`. Writing a record whose id
is already stored in its organisation:
* under the same uid — it is a replay (spool, retry after a lost commit): skipped, so replays are idempotent;
* under another uid — another request reused the caller-chosen id: this record is stored under its own uid,
  with `duplicate_of` naming the id it asked for. No row is ever dropped.
The check is one indexed SELECT per batch, and `RETURNING` tells which rows really went in: a row that lost a
race with another writer (another process or replica) between the check and the insert is resolved again.

Text. Every text value has NUL bytes replaced by U+FFFD (PostgreSQL refuses NUL in text; SQLite gets the same
so both backends store and find the same thing: `filters.clean_text` applies the same rule to filter values).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

import orjson

from ..ids import new_request_id
from .rollup_journal import apply_postgres
from .schema import request_properties, requests, text_hash

COLUMNS = [c.name for c in requests.columns]
_FLOATS = {"latency_ms", "ttft_ms", "overhead_ms", "cost_usd", "cost_saved_usd"}
_INTS = {
    "created_at",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
}
_BOOLS = {"stream", "cache_hit", "pinned"}
_PROP_COLUMNS = [c.name for c in request_properties.columns]
_ID, _ORG, _UID, _DUP = (COLUMNS.index(c) for c in ("id", "org_id", "uid", "duplicate_of"))
row_key = operator.itemgetter(_ID, _ORG)  # a request row's (id, org_id)
_P_REQUEST = _PROP_COLUMNS.index("request_id")

Row = tuple[Any, ...]
Entry = tuple[Row, list[Row]]  # one record: its request row and its property rows


class RejectedBatch(Exception):
    """The database refused the batch's data (a constraint or type error): no retry can fix it."""


def clean_text(s: str) -> str:
    """Text as stored: NUL bytes (refused by PostgreSQL) become U+FFFD."""
    return s.replace("\x00", "\ufffd") if "\x00" in s else s


def _text(v: Any) -> Any:
    return clean_text(v) if v.__class__ is str else v


# one converter per column, in column order (a row is built per record: this loop is the writer's hot spot)
_CONVERT = [
    (c, float if c in _FLOATS else int if c in _INTS else bool if c in _BOOLS else _text) for c in COLUMNS
]
# the same, split for `_row`: typed columns by position, and the positions of text columns
_TYPED = [(i, f) for i, (_, f) in enumerate(_CONVERT) if f is not _text]
_TEXTS = [i for i, (_, f) in enumerate(_CONVERT) if f is _text]


_ID_AT, _STREAM, _HIT, _PROPS, _ATTEMPTS = (
    COLUMNS.index(c) for c in ("id", "stream", "cache_hit", "properties", "attempts")
)
_ALL_COLUMNS = operator.itemgetter(*COLUMNS)


def _row(rec: dict[str, Any], properties: str | None, attempts: str | None) -> Row:
    """One request row in column order: each value converted as `_CONVERT` says, but only where it is needed (a
    typed value of another class, a text with a NUL). Equal to converting every value, in half the time: the values
    are nearly always of their column's type already. Runs on the event loop for every record, so the record is
    read in place, not copied into a dict of the row's values first: in one C call when it has every column (as
    `build_record` makes it), else column by column (records spooled by older releases lack the newer columns)."""
    try:
        row = list(_ALL_COLUMNS(rec))
    except KeyError:
        get = rec.get
        row = [get(c) for c in COLUMNS]
    row[_UID] = row[_UID] or row[_ID_AT]  # records spooled by older releases have no uid
    row[_STREAM] = bool(row[_STREAM])
    row[_HIT] = bool(row[_HIT])
    row[_PROPS] = properties
    row[_ATTEMPTS] = attempts
    for i, f in _TYPED:
        v = row[i]
        if v is not None and v.__class__ is not f:
            row[i] = f(v)
    for i in _TEXTS:
        v = row[i]
        if v.__class__ is str and "\x00" in v:
            row[i] = clean_text(v)
    return tuple(row)


# Caller-chosen text in columns a btree index covers (PostgreSQL refuses index entries over 2,704 bytes).
_INDEXED_TEXT = (
    "user_id",
    "session_id",
    "session_name",
    "session_path",
    "prompt_id",
    "model",
    "requested_model",
)
_INDEXED_MAX = 500  # characters: ≤ 2,000 bytes of UTF-8, with room for the other columns of the entry
_INT4 = 2**31 - 1


def storable(rec: dict[str, Any]) -> dict[str, Any]:
    """A record the database refused, cut down to what every backend accepts: text made valid UTF-8 (lone
    surrogates → '?'), caller text in indexed columns cut to `_INDEXED_MAX` characters, text in sized columns
    cut to their size, counters clamped to their column. Lossy, so only used when the exact record was refused."""

    def text(v: Any, most: int | None = None) -> Any:
        if not isinstance(v, str):
            return v
        v = v.encode("utf-8", "replace").decode("utf-8") if not v.isascii() else v
        return v[:most] if most is not None else v

    out = {}
    for k, v in rec.items():
        column = requests.c.get(k)
        size = getattr(column.type, "length", None) if column is not None else None
        if k in _INDEXED_TEXT:
            size = _INDEXED_MAX
        if k in _INTS and k != "created_at" and isinstance(v, int):
            v = max(min(v, _INT4), -_INT4)
        out[k] = text(v, size)
    out["properties"] = {text(str(k)): text(str(v)) for k, v in (rec.get("properties") or {}).items()}
    try:
        orjson.dumps(rec.get("attempts"))
    except TypeError:  # orjson refuses lone surrogates
        out["attempts"] = [{"note": "the attempt list could not be stored"}]
    return out


_PROP_ORDER = ["request_id", "org_id", "key_hash", "key", "value", "value_hash"]
assert _PROP_COLUMNS == _PROP_ORDER, "request_properties changed: update _prop"


# Property names and most values repeat from request to request ("env" = "prod"): their hashes (~3 µs each) are
# memoised, for short texts only so the memo stays small (a pure function's cache, not state).
_hash_short = functools.lru_cache(maxsize=4096)(text_hash)


def _hash(text: str) -> str:
    return _hash_short(text) if len(text) <= 200 else text_hash(text)


def _prop(request_id: str, org_id: str, key: str, value: str) -> Row:
    return (request_id, org_id, _hash(key), key, value, _hash(value))


def entries_of(records: Sequence[dict[str, Any]]) -> list[Entry]:
    """Records → (request row, property rows) per record, tuples in column order."""
    out = []
    for rec in records:
        props = rec.get("properties")
        properties = (
            {clean_text(str(k).lower()): clean_text(str(v)) for k, v in props.items()} if props else {}
        )
        attempts = rec.get("attempts")
        row = _row(
            rec,
            orjson.dumps(properties).decode() if properties else None,
            orjson.dumps(attempts).decode() if attempts else None,
        )
        out.append((row, [_prop(row[_ID], row[_ORG], k, v) for k, v in properties.items()]))
    return out


def rows_of(records: Sequence[dict[str, Any]]) -> tuple[list[Row], list[Row]]:
    """Records → (request rows, property rows) as tuples in column order."""
    entries = entries_of(records)
    return [r for r, _ in entries], [p for _, ps in entries for p in ps]


def _rekey(entry: Entry, new_id: str) -> Entry:
    row, props = entry
    asked = row[_DUP] or row[_ID]
    row = tuple(new_id if i == _ID else asked if i == _DUP else v for i, v in enumerate(row))
    return row, [tuple(new_id if i == _P_REQUEST else v for i, v in enumerate(p)) for p in props]


def resolve(entries: list[Entry], stored: dict[tuple[str, str], str]) -> list[Entry]:
    """The entries to insert, given `stored` ((id, org_id) → uid of rows already in the table): replays are
    dropped, a record whose id another request holds moves to its own uid (see the module docstring)."""
    taken = dict(stored)
    out = []
    for entry in entries:
        row = entry[0]
        org, uid = row[_ORG], row[_UID]
        if taken.get((uid, org)) == uid:
            continue  # already stored under its uid: a replay (of a server-made id, or of a moved record)
        holder = taken.get((row[_ID], org))
        if holder == uid:
            continue  # a replay
        if holder is not None:
            # Moved to its own uid. Only if a caller chose this very uid (it never sees it before the row exists)
            # could that be taken too; then a fresh id, so even that row is kept.
            entry = _rekey(entry, uid if (uid, org) not in taken else new_request_id())
        taken[(entry[0][_ID], org)] = uid
        out.append(entry)
    return out


def ids_of(entries: list[Entry]) -> list[str]:
    return sorted({v for row, _ in entries for v in (row[_ID], row[_UID])})


INSERT_HEAD = f"INSERT INTO requests ({', '.join(COLUMNS)})"
_RETURNING = "ON CONFLICT (id, org_id) DO NOTHING RETURNING id, org_id"
PROPS_HEAD = f"INSERT INTO request_properties ({', '.join(_PROP_COLUMNS)})"
PROPS_TAIL = "ON CONFLICT (request_id, org_id, key_hash) DO NOTHING"
ATTEMPTS = 4  # inserts per batch at most: a row that loses a race is resolved and tried again


async def write_resolved(entries: list[Entry], lookup: Any, insert: Any) -> tuple[list[Row], list[Row]]:
    """Resolve against the stored rows, insert, resolve the race losers again. Returns what went in. Shared by the
    PostgreSQL writer here and the SQLite one (log_writer_sqlite.py); each brings its own lookup and insert."""
    done: list[Entry] = []
    pending = entries
    for attempt in range(ATTEMPTS + 1):
        pending = resolve(pending, await lookup(ids_of(pending)))
        if not pending:
            return [row for row, _ in done], [p for _, ps in done for p in ps]
        if attempt == ATTEMPTS:
            break
        inserted = await insert([row for row, _ in pending])
        done += [e for e in pending if row_key(e[0]) in inserted]
        pending = [e for e in pending if row_key(e[0]) not in inserted]
    # not bad data: the batch fails as a whole and is replayed later (idempotently)
    raise RuntimeError(f"{len(pending)} request ids still in conflict after {ATTEMPTS} attempts")


# -- PostgreSQL --------------------------------------------------------------------------------------------


def _pg_type(column: Any) -> str:
    name = type(column.type).__name__
    return {"BigInteger": "int8", "Integer": "int4", "Float": "float8", "Boolean": "bool"}.get(name, "text")


def _unnest(head: str, columns: list[Any], tail: str) -> str:
    args = ", ".join(f"${i}::{_pg_type(c)}[]" for i, c in enumerate(columns, 1))
    return f"{head} SELECT * FROM unnest({args}) {tail}"


_PG_REQUESTS = _unnest(INSERT_HEAD, list(requests.columns), _RETURNING)
_PG_PROPS = _unnest(PROPS_HEAD, list(request_properties.columns), PROPS_TAIL)


def _columns(rows: list[Row], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


async def insert_postgres(conn: Any, records: Sequence[dict[str, Any]]) -> None:
    """`conn` is an asyncpg.Connection."""
    import asyncpg

    async def lookup(ids: list[str]) -> dict[tuple[str, str], str]:
        found = await conn.fetch("SELECT id, org_id, uid FROM requests WHERE id = ANY($1::text[])", ids)
        return {(r[0], r[1]): r[2] for r in found}

    async def insert(rows: list[Row]) -> set[tuple[str, str]]:
        return {(r[0], r[1]) for r in await conn.fetch(_PG_REQUESTS, *_columns(rows, len(COLUMNS)))}

    try:
        async with conn.transaction():
            rows, props = await write_resolved(entries_of(records), lookup, insert)
            if props:
                await conn.execute(_PG_PROPS, *_columns(props, len(_PROP_COLUMNS)))
            await apply_postgres(
                conn, rows, props
            )  # dashboard rollups, same transaction (stores/rollup_journal.py)
    except (
        asyncpg.IntegrityConstraintViolationError,
        asyncpg.DataError,
        asyncpg.ProgramLimitExceededError,
        UnicodeEncodeError,
        TypeError,
        RejectedBatch,
    ) as e:  # TypeError: orjson refuses lone surrogates
        raise RejectedBatch(str(e)) from None
