"""Request ids: server-made ids (format, randomness source), Helicone-Request-Id parsing, the in-flight claim set,
and the log writer's resolution of reused ids (pure)."""

from __future__ import annotations

import uuid

import pytest

from switchyard import ids
from switchyard.errors import GatewayError
from switchyard.pipeline.headers import canonical_request_id, parse_helicone
from switchyard.pipeline.request_ids import InFlightIds
from switchyard.stores.log_writer import entries_of, resolve


def test_server_ids_are_uuid4_from_the_os_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    made = {ids.new_request_id() for _ in range(10_000)}
    assert len(made) == 10_000
    for rid in list(made)[:100]:
        u = uuid.UUID(rid)
        assert str(u) == rid and u.version == 4 and u.variant == uuid.RFC_4122
    # the bits come from os.urandom, nothing else: a fixed urandom gives a fixed id (the version and variant set)
    monkeypatch.setattr(ids, "urandom", lambda n: b"\xff" * n)
    ids._pool.clear()  # the bytes already fetched from the real urandom
    try:
        assert ids.new_request_id() == "ffffffff-ffff-4fff-bfff-ffffffffffff"
    finally:
        ids._pool.clear()  # the pool now holds 4 KiB of the fake bytes: later tests must not get them


def test_helicone_request_id_is_the_callers_uuid_else_the_uid() -> None:
    x = str(uuid.uuid4())
    h = parse_helicone({"helicone-request-id": f"  {x.upper()} "})
    assert h.request_id == x and h.caller_id and h.uid != x and uuid.UUID(h.uid).version == 4
    for bad in (
        "",
        "not-a-uuid",
        x + "\x00",
        x + "x",
        "00000000-0000-0000-0000-000000000000",
        x.replace("-", ""),
    ):
        h = parse_helicone({"helicone-request-id": bad})
        assert h.request_id == h.uid and not h.caller_id
    assert canonical_request_id(x.upper()) == x
    assert canonical_request_id("\x00") is None and canonical_request_id("x" * 400) is None


def test_an_id_in_flight_is_claimed_once_per_organisation() -> None:
    held = InFlightIds()
    x = str(uuid.uuid4())
    first = parse_helicone({"helicone-request-id": x})
    other_org = parse_helicone({"helicone-request-id": x})
    second = parse_helicone({"helicone-request-id": x})
    held.claim("a", first)
    held.claim("b", other_org)  # another organisation's id is its own
    with pytest.raises(GatewayError) as e:
        held.claim("a", second)
    assert e.value.status == 409 and e.value.code == "duplicate_request_id"
    assert second.request_id == second.uid and second.duplicate_of == x  # its log row takes its uid
    held.release("a", second)  # releasing the refused one does not free the holder's id
    assert len(held) == 2
    held.release("a", first)
    held.release("b", other_org)
    assert len(held) == 0
    third = parse_helicone({"helicone-request-id": x})
    held.claim("a", third)  # free again
    server_made = parse_helicone({})
    held.claim("a", server_made)  # server-made ids are never tracked
    assert len(held) == 1


def _entry(org: str, rid: str, uid: str | None = None) -> dict:
    return {
        "id": rid,
        "uid": uid,
        "org_id": org,
        "created_at": 1,
        "path": "/",
        "status": 200,
        "properties": {"k": "v"},
    }


def test_resolve_skips_replays_and_moves_reused_ids() -> None:
    x, u1, u2 = (str(uuid.uuid4()) for _ in range(3))
    stored = {(x, "a"): u1}
    out = resolve(entries_of([_entry("a", x, u1), _entry("a", x, u2), _entry("b", x, u2)]), stored)
    rows = [(r[0][0], r[0][1]) for r in out]
    assert rows == [(u2, "a"), (x, "b")]  # the replay is gone; the reuse moved to its uid; org b keeps x
    moved_row, moved_props = out[0]
    assert x in moved_row and all(p[0] == u2 for p in moved_props)
    # the moved record replayed later is recognised under its uid
    assert resolve(entries_of([_entry("a", x, u2)]), {(x, "a"): u1, (u2, "a"): u2}) == []
