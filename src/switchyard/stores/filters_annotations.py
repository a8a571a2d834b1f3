"""Helicone filter leaves on what callers add after a request: `{"feedback": {"rating": {"equals": true}}}` and
`{"scores": {"<name>": {"gte": 0.5}}}` (compiled into EXISTS over the organisation's feedback and score rows)."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.sql.elements import ColumnElement

from .schema import requests
from .schema_dashboard import request_feedback as fb
from .schema_dashboard import request_scores as sc

_NUMBER_OPS = {
    "equals": "__eq__",
    "not-equals": "__ne__",
    "gt": "__gt__",
    "gte": "__ge__",
    "lt": "__lt__",
    "lte": "__le__",
}


class AnnotationFilterError(ValueError):
    pass


def _one(spec: Any, where: str) -> tuple[str, Any]:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise AnnotationFilterError(f'{where}: expected exactly one operator, like {{"equals": value}}')
    ((op, value),) = spec.items()
    return op, value


def feedback_clause(cols: Any) -> ColumnElement[bool]:
    if not isinstance(cols, dict) or not cols:
        raise AnnotationFilterError('feedback: expected {"rating": {"equals": true|false}}')
    clauses = []
    for name, spec in cols.items():
        if name not in ("rating", "helicone-score-feedback", "feedback_rating"):
            raise AnnotationFilterError(f"unknown feedback column {name!r}; use rating")
        op, value = _one(spec, f"feedback.{name}")
        if op not in ("equals", "not-equals") or not isinstance(value, bool):
            raise AnnotationFilterError("feedback.rating takes equals or not-equals with true or false")
        clauses.append(
            exists(
                select(fb.c.request_id).where(
                    fb.c.org_id == requests.c.org_id,
                    fb.c.request_id == requests.c.id,
                    fb.c.rating == (value if op == "equals" else not value),
                )
            )
        )
    return clauses[0] if len(clauses) == 1 else clauses[0] & clauses[1]


def scores_clause(cols: Any) -> ColumnElement[bool]:
    if not isinstance(cols, dict) or not cols:
        raise AnnotationFilterError('scores: expected {"<score name>": {"gte": number}}')
    out: ColumnElement[bool] | None = None
    for name, spec in cols.items():
        op, value = _one(spec, f"scores.{name}")
        if isinstance(value, bool):
            value = 1.0 if value else 0.0
        if op not in _NUMBER_OPS or not isinstance(value, int | float) or not math.isfinite(value):
            raise AnnotationFilterError(
                f"scores.{name}: use equals, not-equals, gt, gte, lt or lte with a number"
            )
        clause = exists(
            select(sc.c.request_id).where(
                sc.c.org_id == requests.c.org_id,
                sc.c.request_id == requests.c.id,
                sc.c.name == str(name),
                getattr(sc.c.value, _NUMBER_OPS[op])(float(value)),
            )
        )
        out = clause if out is None else out & clause
    assert out is not None
    return out
