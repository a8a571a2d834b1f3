"""Access to the machine's PostgreSQL and Redis for tests: under CI=true a missing service fails, never skips."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket

import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    if not _reachable(PG_HOST, PG_PORT):
        message = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: Postgres-backed tests must run)")
        pytest.skip(message)
    return PG_URL


def require_redis() -> str:
    if not _reachable(REDIS_HOST, REDIS_PORT):
        message = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: Redis-backed tests must run)")
        pytest.skip(message)
    return REDIS_URL


def fresh_prefix(name: str = "sytest") -> str:
    """A Redis key prefix no other test run uses (tests share the machine's Redis)."""
    return f"{name}:{secrets.token_hex(4)}:"


def drop_prefix(url: str, prefix: str) -> list[bytes]:
    """Delete every Redis key under `prefix` (a test's own namespace); returns the keys that were there."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        return keys
    finally:
        client.close()


def fresh_schema(prefix: str = "sy_test") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def drop_schema(schema: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(go())
