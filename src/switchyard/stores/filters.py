"""Helicone's request-query filter AST → SQLAlchemy expressions over the `requests` table.

FilterNode := "all" | {"left": FilterNode, "operator": "and"|"or", "right": FilterNode} | Leaf
Leaf       := {<table>: {<column>: {<op>: value}}}
Tables `request_response_rmt`, `request`, `response` name columns of the log; table `properties` (or column
`properties` inside a table) filters on `Helicone-Property-*` values: {"properties": {"env": {"equals": "x"}}}.
Ops: equals, not-equals, like, ilike, contains, not-contains, gt, gte, lt, lte, in.
Unknown tables, columns or ops raise `FilterError` (a 400 for the caller), never a silent "match all".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from .schema import request_properties, requests


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
}

_TIME_COLUMNS = {"created_at"}


def _coerce(column: str, value: Any) -> Any:
    if column in _TIME_COLUMNS and isinstance(value, str):
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if t.tzinfo is None:
                t = t.replace(tzinfo=UTC)  # a time without an offset is UTC, whatever the server's zone
            return int(t.timestamp() * 1000)
        except ValueError:
            raise FilterError(f"cannot read {value!r} as a time (use ISO 8601 or epoch milliseconds)") from None
    return value


def _escape_like(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _op(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "equals":
        return col == value
    if op == "not-equals":
        return col != value
    if op in ("gt", "gte", "lt", "lte"):
        return {"gt": col > value, "gte": col >= value, "lt": col < value, "lte": col <= value}[op]
    if op == "in":
        if not isinstance(value, list):
            raise FilterError("operator 'in' takes a list")
        return col.in_(value)
    if op in ("like", "ilike", "contains", "not-contains"):
        if not isinstance(value, str):
            raise FilterError(f"operator {op!r} takes a string")
        if op == "like":
            return col.like(value)
        if op == "ilike":
            return col.ilike(value)
        pattern = f"%{_escape_like(value)}%"
        clause = col.ilike(pattern, escape="\\")
        return ~clause if op == "not-contains" else clause
    raise FilterError(f"unknown filter operator {op!r}")


def _one_op(spec: Any, where: str) -> tuple[str, Any]:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise FilterError(f"{where}: expected exactly one operator, like {{\"equals\": value}}")
    ((op, value),) = spec.items()
    return op, value


def _properties(spec: Any) -> ColumnElement[bool]:
    if not isinstance(spec, dict) or not spec:
        raise FilterError("properties filter must map a property name to an operator")
    clauses = []
    for name, opspec in spec.items():
        op, value = _one_op(opspec, f"properties.{name}")
        sub = (
            select(request_properties.c.request_id)
            .where(request_properties.c.request_id == requests.c.id)
            .where(request_properties.c.key == str(name).lower())
            .where(_op(request_properties.c.value, op, value))
        )
        clauses.append(exists(sub))
    return and_(*clauses)


def _leaf(node: dict[str, Any]) -> ColumnElement[bool]:
    clauses = []
    for table, cols in node.items():
        if table == "properties":
            clauses.append(_properties(cols))
            continue
        if table not in _TABLES:
            raise FilterError(f"unknown filter table {table!r}")
        if not isinstance(cols, dict) or not cols:
            raise FilterError(f"{table}: expected a mapping of column to operator")
        for name, opspec in cols.items():
            if name in ("properties", "request_properties"):
                clauses.append(_properties(opspec))
                continue
            column = COLUMNS.get(name)
            if column is None:
                raise FilterError(f"unknown filter column {name!r}; known: {', '.join(sorted(COLUMNS))}")
            op, value = _one_op(opspec, f"{table}.{name}")
            value = [_coerce(column, v) for v in value] if isinstance(value, list) else _coerce(column, value)
            clauses.append(_op(requests.c[column], op, value))
    return and_(*clauses) if clauses else true()


def to_sql(node: Any, depth: int = 0) -> ColumnElement[bool]:
    if depth > 64:
        raise FilterError("filter nested too deeply")
    if node is None or node == "all":
        return true()
    if node == "none":
        return false()
    if not isinstance(node, dict):
        raise FilterError("filter must be \"all\" or an object")
    if "operator" in node:
        op = node.get("operator")
        if op not in ("and", "or") or "left" not in node or "right" not in node:
            raise FilterError("a branch filter needs left, right and operator \"and\" or \"or\"")
        left, right = to_sql(node["left"], depth + 1), to_sql(node["right"], depth + 1)
        return and_(left, right) if op == "and" else or_(left, right)
    return _leaf(node)
