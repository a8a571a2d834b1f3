"""Backends for the store contract suite: SQLite in a temporary directory, and PostgreSQL at 127.0.0.1:5432
in a schema of its own for this test session (created by `migrate`, dropped at the end).

When PostgreSQL is unreachable its tests skip locally, but fail in CI (`CI=true`): a CI run that silently
skipped the PostgreSQL half of the contract would prove nothing about it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest

from switchyard.stores.base import StoreUnavailable
from switchyard.stores.sql import SQLStore

PG_URL = os.environ.get("SWITCHYARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"PostgreSQL is required in CI (CI=true) but is unreachable at {PG_URL}: {reason}", pytrace=False
        )
    pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {reason}")


async def _drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL, timeout=10)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ],
)
async def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SQLStore]:
    """A migrated store, shared by every test of one backend. Tests isolate themselves with fresh orgs."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("contract-sqlite") / "switchyard.db"
        s = SQLStore(f"sqlite:///{path}")
        await s.migrate()
        yield s
        await s.close()
        return

    schema = f"sy_contract_{secrets.token_hex(6)}"
    s = SQLStore(PG_URL, schema=schema)
    try:
        await s.ping()
    except StoreUnavailable as e:
        await s.close()
        _unavailable(str(e) or type(e).__name__)
    try:
        await s.migrate()
        yield s
    finally:
        await s.close()
        await _drop_schema(schema)
