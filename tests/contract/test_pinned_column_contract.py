"""Store contract: `requests.pinned` (migration 0010, session affinity) on every backend: true, false and NULL
round-trip and are filterable."""

from __future__ import annotations

from contract.test_store_contract import new_org, rec
from switchyard.stores.base import RequestQuery
from switchyard.stores.sql import SQLStore


async def test_pinned_round_trips_as_true_false_and_null_and_filters(store: SQLStore) -> None:
    org = await new_org(store)
    rows = {value: rec(org.id, pinned=value) for value in (True, False, None)}
    await store.insert_requests(list(rows.values()))
    for value, r in rows.items():
        got = await store.get_request(org.id, r["id"])
        assert got is not None and got["pinned"] is value
    for value in (True, False):
        q = RequestQuery(org_id=org.id, filter={"request_response_rmt": {"pinned": {"equals": value}}})
        assert [x["id"] for x in await store.query_requests(q)] == [rows[value]["id"]]
