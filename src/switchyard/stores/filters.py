"""Helicone's request-query filter AST → SQLAlchemy expressions over the `requests` table.

FilterNode := "all" | {"left": FilterNode, "operator": "and"|"or", "right": FilterNode} | Leaf
Leaf       := {<table>: {<column>: {<op>: value}}}
Tables `request_response_rmt`, `request`, `response` name columns of the log; table `properties` (or column
`properties` inside a table) filters on `Helicone-Property-*` values: {"properties": {"env": {"equals": "x"}}}.
Ops: equals, not-equals, like, ilike, contains, not-contains, gt, gte, lt, lte, in.
Unknown tables, columns or ops raise `FilterError` (a 400 for the caller), never a silent "match all".

Nothing a caller sends reaches the database unchecked: every value must fit its column (text, integer in the
column's range, number, boolean, time; numbers given as strings are read as numbers), pattern operators apply
to text only, and a filter holds at most `MAX_CONDITIONS` compared values (each `in` element counts) — a
bigger one is a 400, not a SQL error. Branches are parenthesised, so the SQL nests only as deep as the filter
(SQLite refuses expressions nested over 1,000 deep, and `a OR b OR ...` would nest once per term).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Integer, and_, exists, false, select, true
from sqlalchemy.sql.elements import ColumnElement, Grouping

from .filters_annotations import AnnotationFilterError, feedback_clause, scores_clause
from .log_writer import clean_text
from .schema import request_properties, requests, text_hash

MAX_CONDITIONS = 1000
MAX_DEPTH = 64


class FilterError(ValueError):
    pass


_TABLES = {"request_response_rmt", "request", "response", "request_response_log", "requests"}

# Helicone column names (and ours) → our columns.
COLUMNS = {
    "request_id": "id",
    "id": "id",
    "created_at": "created_at",
    "request_created_at": "created_at",
    "model": "model",
    "response_model": "model",
    "request_model": "requested_model",
    "requested_model": "requested_model",
    "provider": "provider",
    "status": "status",
    "response_status": "status",
    "user_id": "user_id",
    "request_user_id": "user_id",
    "session_id": "session_id",
    "session_path": "session_path",
    "session_name": "session_name",
    "prompt_id": "prompt_id",
    "path": "path",
    "request_path": "path",
    "key_id": "key_id",
    "latency": "latency_ms",
    "latency_ms": "latency_ms",
    "delay_ms": "latency_ms",
    "time_to_first_token": "ttft_ms",
    "ttft_ms": "ttft_ms",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "cost": "cost_usd",
    "cost_usd": "cost_usd",
    "cost_saved_usd": "cost_saved_usd",
    "cache_hit": "cache_hit",
    "stream": "stream",
    "error": "error",
    "duplicate_of": "duplicate_of",  # rows that asked for this id while another request held it
    "uid": "uid",
    "pinned": "pinned",  # session affinity: sent first to its session's pinned endpoint (null: no session)
}

_TIME_COLUMNS = {"created_at"}
_PATTERN_OPS = ("like", "ilike", "contains", "not-contains")
_RANGE = {"int4": (-(2**31), 2**31 - 1), "int8": (-(2**63), 2**63 - 1)}


def _kind(column: str) -> str:
    t = requests.c[column].type
    if isinstance(t, BigInteger):
        return "int8"
    if isinstance(t, Integer):
        return "int4"
    if isinstance(t, Float):
        return "float"
    if isinstance(t, Boolean):
        return "bool"
    return "text"


class _Budget:
    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_CONDITIONS

    def spend(self, n: int = 1) -> None:
        self.left -= n
        if self.left < 0:
            raise FilterError(
                f"filter too large: at most {MAX_CONDITIONS} conditions (each 'in' value counts one)"
            )


def _time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return _number(value, "int8", "created_at")
            except FilterError:
                raise FilterError(
                    f"cannot read {value!r} as a time (use ISO 8601 or epoch milliseconds)"
                ) from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)  # a time without an offset is UTC, whatever the server's zone
        return int(t.timestamp() * 1000)
    return _number(value, "int8", "created_at")


def _number(value: Any, kind: str, name: str) -> int | float:
    v = value
    if isinstance(v, str):
        try:
            v = float(v) if kind == "float" else int(v.strip())
        except ValueError:
            raise FilterError(f"{name}: {value!r} is not a number") from None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise FilterError(f"{name} compares with a number, not {type(value).__name__}")
    if kind == "float":
        if not math.isfinite(v):
            raise FilterError(f"{name}: {value!r} is not a finite number")
        return float(v)
    if isinstance(v, float):
        if not v.is_integer():
            raise FilterError(f"{name} compares with an integer, not {value!r}")
        v = int(v)
    lo, hi = _RANGE[kind]
    if not lo <= v <= hi:
        raise FilterError(f"{name}: {value!r} is out of range")
    return v


def _scalar(kind: str, name: str, value: Any) -> Any:
    """A filter value checked and converted for a column of `kind` (text, int4, int8, float, bool, time)."""
    if kind == "time":
        return _time(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise FilterError(f"{name} compares with true or false, not {value!r}")
    if kind == "text":
        if isinstance(value, str):
            return clean_text(value)  # as the writer stores it
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise FilterError(f"{name} compares with a string, not {type(value).__name__}")
    return _number(value, kind, name)


def _join(op: str, clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """`a op b op ...` as a balanced tree of parenthesised pairs. SQLAlchemy flattens nested and_/or_ into one
    chain, which SQLite parses one level deeper per term; a balanced tree nests log2(n) deep."""
    if len(clauses) == 1:
        return clauses[0]
    mid = len(clauses) // 2
    return Grouping(_join(op, clauses[:mid])).bool_op(op)(Grouping(_join(op, clauses[mid:])))


def _escape_like(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _op(col: Any, kind: str, name: str, op: str, value: Any, budget: _Budget) -> ColumnElement[bool]:
    if op in _PATTERN_OPS:
        if kind != "text":
            raise FilterError(f"operator {op!r} applies to text; {name} is not text")
        if not isinstance(value, str):
            raise FilterError(f"operator {op!r} takes a string")
        budget.spend()
        value = clean_text(value)
        if op == "like":
            return col.like(value)
        if op == "ilike":
            return col.ilike(value)
        clause = col.ilike(f"%{_escape_like(value)}%", escape="\\")
        return ~clause if op == "not-contains" else clause
    if op == "in":
        if not isinstance(value, list):
            raise FilterError("operator 'in' takes a list")
        budget.spend(max(len(value), 1))
        return col.in_([_scalar(kind, name, v) for v in value])
    if op in ("equals", "not-equals"):
        budget.spend()
        if value is None:
            return col.is_(None) if op == "equals" else col.is_not(None)
        v = _scalar(kind, name, value)
        return col == v if op == "equals" else col != v
    if op in ("gt", "gte", "lt", "lte"):
        budget.spend()
        v = _scalar(kind, name, value)
        return {"gt": col > v, "gte": col >= v, "lt": col < v, "lte": col <= v}[op]
    raise FilterError(f"unknown filter operator {op!r}")


def _one_op(spec: Any, where: str) -> tuple[str, Any]:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise FilterError(f'{where}: expected exactly one operator, like {{"equals": value}}')
    ((op, value),) = spec.items()
    return op, value


def _property_value(op: str, value: Any, budget: _Budget) -> ColumnElement[bool]:
    """A condition on request_properties.value; equality also names the indexed hash."""
    rp = request_properties.c
    clause = _op(rp.value, "text", "a property value", op, value, budget)
    if op == "equals" and value is not None:
        return and_(rp.value_hash == text_hash(_scalar("text", "a property value", value)), clause)
    if op == "in" and isinstance(value, list):
        hashes = [text_hash(_scalar("text", "a property value", v)) for v in value]
        return and_(rp.value_hash.in_(hashes), clause)
    return clause


def _properties(spec: Any, budget: _Budget) -> ColumnElement[bool]:
    if not isinstance(spec, dict) or not spec:
        raise FilterError("properties filter must map a property name to an operator")
    rp = request_properties.c
    clauses: list[ColumnElement[bool]] = []
    for name, opspec in spec.items():
        op, value = _one_op(opspec, f"properties.{name}")
        key = clean_text(str(name).lower())
        sub = (
            select(rp.request_id)
            .where(rp.request_id == requests.c.id)
            .where(rp.org_id == requests.c.org_id)
            .where(rp.key_hash == text_hash(key))
            .where(rp.key == key)  # the full name, so a hash collision can never match
            .where(_property_value(op, value, budget))
        )
        clauses.append(exists(sub))
    return _join("AND", clauses)


def _leaf(node: dict[str, Any], budget: _Budget) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    for table, cols in node.items():
        if table == "properties":
            clauses.append(_properties(cols, budget))
            continue
        if table in (
            "feedback",
            "scores",
        ):  # annotations added after the request (stores/filters_annotations.py)
            try:
                clauses.append(feedback_clause(cols) if table == "feedback" else scores_clause(cols))
            except AnnotationFilterError as e:
                raise FilterError(str(e)) from None
            continue
        if table not in _TABLES:
            raise FilterError(f"unknown filter table {table!r}")
        if not isinstance(cols, dict) or not cols:
            raise FilterError(f"{table}: expected a mapping of column to operator")
        for name, opspec in cols.items():
            if name in ("properties", "request_properties"):
                clauses.append(_properties(opspec, budget))
                continue
            column = COLUMNS.get(name)
            if column is None:
                raise FilterError(f"unknown filter column {name!r}; known: {', '.join(sorted(COLUMNS))}")
            op, value = _one_op(opspec, f"{table}.{name}")
            kind = "time" if column in _TIME_COLUMNS else _kind(column)
            clauses.append(_op(requests.c[column], kind, name, op, value, budget))
    return _join("AND", clauses) if clauses else true()


def _node(node: Any, depth: int, budget: _Budget) -> ColumnElement[bool]:
    if depth > MAX_DEPTH:
        raise FilterError(f"filter nested too deeply (at most {MAX_DEPTH} levels)")
    if node is None or node == "all":
        budget.spend()
        return true()
    if node == "none":
        budget.spend()
        return false()
    if not isinstance(node, dict):
        raise FilterError('filter must be "all" or an object')
    if "operator" in node:
        op = node.get("operator")
        if op not in ("and", "or") or "left" not in node or "right" not in node:
            raise FilterError('a branch filter needs left, right and operator "and" or "or"')
        left, right = _node(node["left"], depth + 1, budget), _node(node["right"], depth + 1, budget)
        return _join(op.upper(), [left, right])
    return _leaf(node, budget)


def to_sql(node: Any) -> ColumnElement[bool]:
    """The filter as a WHERE clause over `requests`; FilterError (→ 400) for anything malformed or too big."""
    return _node(node, 0, _Budget())
