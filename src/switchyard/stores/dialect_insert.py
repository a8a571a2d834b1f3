"""The store's INSERT construct with ON CONFLICT (SQLite's or PostgreSQL's).

SQLAlchemy's PostgreSQL dialect (~2 MB resident with its asyncpg adapter) is imported only by a store on
PostgreSQL: a gateway on the embedded SQLite never loads it (tests/unit/test_serving_imports.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def insert_for(dialect: str) -> Callable[..., Any]:
    """`insert(table)` of `dialect` ("sqlite" or "postgresql"), with `on_conflict_do_*`."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert
