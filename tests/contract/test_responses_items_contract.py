"""Responses API state on every backend (SQLite and PostgreSQL, see conftest.py): rows per (organisation, id),
expired rows never served and purged in batches, a replayed write harmless; and `ResponsesState` over the real
store — resolution scoped to the organisation, answers readable before the writer has stored them, `store: false`
and native-only plans keeping nothing, the writer draining at close."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from switchyard.errors import GatewayError
from switchyard.formats.openai_responses import ResponsesSurface
from switchyard.pipeline.responses_state import ResponsesState
from switchyard.stores.responses_items import ResponseItems, StoredRow
from switchyard.stores.sql import SQLStore

DAY = 86_400_000


def org() -> str:
    return str(uuid.uuid4())


async def test_rows_are_per_organisation_and_expire(store: SQLStore):
    items = ResponseItems(store.engine)
    a, b = org(), org()
    await items.put(
        [
            StoredRow(a, "resp_1", "response", {"input": [], "output": []}, 1, 10_000),
            StoredRow(a, "msg_1", "item", {"type": "message", "text": "Zürich 東京"}, 1, 10_000),
            StoredRow(a, "msg_old", "item", {"type": "message"}, 1, 5),
        ]
    )
    await items.put([StoredRow(a, "msg_1", "item", {"type": "other"}, 1, 10_000)])  # a replay changes nothing
    got = await items.get(a, ["resp_1", "msg_1", "msg_old", "nope"], now_ms=100)
    assert got == {
        "resp_1": ("response", {"input": [], "output": []}),
        "msg_1": ("item", {"type": "message", "text": "Zürich 東京"}),
    }
    assert await items.get(b, ["resp_1", "msg_1"], now_ms=100) == {}


async def test_purge_deletes_expired_rows_in_batches(store: SQLStore):
    items = ResponseItems(store.engine)
    o = org()
    t0 = 10**14  # later than every row of the shared store: the other tests' rows are purged too
    await items.put([StoredRow(o, f"it_{i}", "item", {}, 1, t0 + i) for i in range(25)])
    await items.put([StoredRow(o, "live", "item", {}, 1, t0 + 10 * DAY)])
    gone = 0
    while (n := await items.purge(t0 + 100, batch=10)) >= 10:
        gone += n
    gone += n
    assert gone >= 25
    assert await items.get(o, ["live", "it_0", "it_24"], now_ms=t0) == {"live": ("item", {})}


@dataclass
class _Provider:
    responses: bool


@dataclass
class _Attempt:
    provider: _Provider


BRIDGED = [_Attempt(_Provider(False))]
NATIVE = [_Attempt(_Provider(True))]


def answered(
    state: ResponsesState, org_id: str, body: dict[str, Any], output: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the proxy does around one bridged answer: prepare (already awaited), answer, keep."""
    s = ResponsesSurface()
    s.keeping = body.get("store") is not False
    s.body = body
    s._produced = {"id": "resp_" + uuid.uuid4().hex, "output": output}
    state.keep(org_id, s)
    return s._produced


async def prepared(state: ResponsesState, org_id: str, body: dict[str, Any], plan: list[Any] = BRIDGED):
    s = ResponsesSurface()
    await state.prepare(org_id, body, s, plan)
    return s


async def test_resolution_before_and_after_the_writer_stored_it(store: SQLStore):
    state = ResponsesState(ResponseItems(store.engine), 30)
    o = org()
    msg = {
        "id": "msg_" + uuid.uuid4().hex,
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Paris"}],
    }
    first = answered(state, o, {"input": "Capital of France?"}, [msg])
    s = await prepared(
        state, o, {"input": "And Italy?", "previous_response_id": first["id"]}
    )  # still pending
    assert s.resolved == [
        {"type": "message", "role": "user", "content": "Capital of France?"},
        msg,
        {"type": "message", "role": "user", "content": "And Italy?"},
    ]
    assert s.keeping
    await state.start()
    await state.close()  # drains the writer: now only the database has it
    assert not state._pending
    state2 = ResponsesState(ResponseItems(store.engine), 30)
    s = await prepared(state2, o, {"input": [{"type": "item_reference", "id": msg["id"]}]})
    assert s.resolved == [msg]
    with pytest.raises(GatewayError) as e:
        await prepared(state2, org(), {"input": "x", "previous_response_id": first["id"]})
    assert (e.value.status, e.value.code) == (400, "previous_response_not_found")
    with pytest.raises(GatewayError) as e:
        await prepared(state2, org(), {"input": [{"type": "item_reference", "id": msg["id"]}]})
    assert e.value.status == 404 and msg["id"] in e.value.message


async def test_store_false_and_native_plans_keep_nothing(store: SQLStore):
    state = ResponsesState(ResponseItems(store.engine), 30)
    o = org()
    s = await prepared(state, o, {"input": "x", "store": False})
    assert s.keeping is False
    s = await prepared(state, o, {"input": "x", "previous_response_id": "resp_at_openai"}, NATIVE)
    assert (s.keeping, s.resolved, s.state_error) == (False, None, None)  # OpenAI's to resolve
    s = await prepared(state, o, {"input": "x", "previous_response_id": "resp_at_openai"}, NATIVE + BRIDGED)
    assert s.state_error is not None and s.state_error.code == "previous_response_not_found"
    with pytest.raises(GatewayError):
        s.request({"model": "m", "input": "x", "previous_response_id": "resp_at_openai"})  # a bridged attempt


async def test_retention_zero_is_off(store: SQLStore):
    state = ResponsesState(ResponseItems(store.engine), 0)
    s = await prepared(state, org(), {"input": "x", "previous_response_id": "resp_1"})
    assert (s.keeping, s.resolved) == (False, None)
    with pytest.raises(GatewayError) as e:
        s.request({"model": "m", "input": "x", "previous_response_id": "resp_1"})
    assert "retention_days is 0" in e.value.message
