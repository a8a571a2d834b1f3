"""Every pooled database connection busy: a store call is StoreUnavailable (the gateway answers 503), not an
unhandled pool timeout (a 500). SQLAlchemy's pool timeout is not a DBAPIError, which is all the store caught."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from tests.contract.conftest import PG_URL

from switchyard.stores.base import StoreUnavailable
from switchyard.stores.sql import SQLStore, async_url


@pytest.fixture
async def one_connection_store(store: SQLStore) -> AsyncIterator[SQLStore]:
    """The session's PostgreSQL store, but with a pool of one connection and a 0.2 s checkout timeout."""
    if store.dialect != "postgresql":
        pytest.skip("pool limits are PostgreSQL's (SQLite's pool is per file, without a checkout timeout)")
    small = SQLStore(PG_URL, schema=store.schema)
    await small.engine.dispose()
    small.engine = create_async_engine(
        async_url(PG_URL),
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.2,
        connect_args={"server_settings": {"search_path": store.schema or "public"}},
    )
    try:
        yield small
    finally:
        await small.close()


async def test_a_busy_pool_is_store_unavailable_for_credits_and_keys(one_connection_store: SQLStore) -> None:
    s = one_connection_store
    org = await s.create_org(f"pool-{uuid.uuid4().hex[:8]}")
    await s.add_credits(org.id, 5.0)
    async with s.engine.connect():  # the only connection, held
        with pytest.raises(StoreUnavailable):
            await s.reserve_credits(org.id, f"r-{uuid.uuid4().hex}", 0.01)
        with pytest.raises(StoreUnavailable):
            await s.find_key_by_hash("0" * 64)
        with pytest.raises(StoreUnavailable):
            await s.ping()
    assert await s.reserve_credits(org.id, f"r-{uuid.uuid4().hex}", 0.01)  # free again: served
