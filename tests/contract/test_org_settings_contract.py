"""Organisation settings kept in the `limits` JSON column (sql_settings.encode_org_limits), on SQLite and
PostgreSQL: a setting and the limit rules change independently and survive each other's updates."""

from __future__ import annotations

import uuid

from switchyard.stores.base import LimitRule
from switchyard.stores.sql import SQLStore

RULE = LimitRule("requests", 10.0, 60, "key")


async def test_allow_caller_provider_keys_and_limits_are_independent(store: SQLStore) -> None:
    org = await store.create_org(f"settings-{uuid.uuid4().hex[:8]}")
    assert org.allow_caller_provider_keys is False
    org = await store.update_org(org.id, limits=[RULE])
    org = await store.update_org(org.id, allow_caller_provider_keys=True)
    assert org.allow_caller_provider_keys is True and org.limits == (RULE,)
    org = await store.update_org(org.id, limits=[], credits_enabled=True)
    assert org.allow_caller_provider_keys is True and org.limits == () and org.credits_enabled
    org = await store.update_org(org.id, limits=[RULE])
    again = await store.get_org(org.id)
    assert again is not None and again.allow_caller_provider_keys is True and again.limits == (RULE,)
    org = await store.update_org(org.id, allow_caller_provider_keys=False)
    assert org.allow_caller_provider_keys is False and org.limits == (RULE,)
    assert [o.allow_caller_provider_keys for o in await store.list_orgs() if o.id == org.id] == [False]
