"""Session affinity end to end: an organisation with two OpenAI keys of its own. Requests without a session
take turns between the keys (load balancing); a session's requests stay on the key that served its first one,
streamed or not, until that key fails — then the session moves to the key that answered, and stays there.
Which key served is read from the upstream (each key's base URL names it), whether the request was pinned
from its log row."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from support.fault_calls import byok_gateway

MODEL = "gpt-4o-mini/openai"


@pytest.fixture(scope="module")
def gw(fault, tmp_path_factory):
    g = byok_gateway(tmp_path_factory.mktemp("affinity"), fault)
    yield g
    g.stop()


@pytest.fixture
def org(gw, fault):
    """(name, gateway key, key-name prefix) of a new organisation with its own OpenAI keys `k1` and `k2`."""
    name = f"affinity-{time.time_ns()}"
    gw.admin("POST", "/orgs", {"name": name})
    key = gw.admin("POST", f"/orgs/{name}/keys", {"name": "affinity"})["key"]
    tag = name[-8:]
    for kid in ("k1", "k2"):
        gw.admin(
            "POST",
            f"/orgs/{name}/provider-keys",
            {
                "provider": "openai",
                "key": f"sk-{name}-{kid}-0123456789",
                "id": kid,
                "config": {"base_url": fault.base_url(f"{tag}{kid}")},
            },
        )
    return name, key, tag


def send(gw, fault, key: str, session: str | None = None, *, stream: bool = False) -> tuple[list[str], str]:
    """One chat request; (the upstreams it reached, in order, as k1/k2/ptb; its request id)."""
    rid = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {key}", "Helicone-Request-Id": rid}
    if session is not None:
        headers["Helicone-Session-Id"] = session
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    mark = fault.mark()
    r = httpx.post(f"{gw.url}/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return [x.provider[-2:] if x.provider != "ptb" else "ptb" for x in fault.requests(since=mark)], rid


def test_a_session_stays_on_one_key_while_unpinned_traffic_rotates(gw, fault, org):
    _, key, _ = org
    session = f"conv-{uuid.uuid4()}"
    first, rid = send(gw, fault, key, session)
    assert len(first) == 1 and first[0] in ("k1", "k2")
    pinned_to, rows = first[0], [rid]
    free = []
    for i in range(6):
        free.append(send(gw, fault, key)[0])  # no session: load balanced
        served, rid = send(gw, fault, key, session, stream=i % 2 == 1)
        assert served == [pinned_to], (i, served)
        rows.append(rid)
    assert [x for [x] in free] in (["k1", "k2"] * 3, ["k2", "k1"] * 3), free

    # the first request found no pin, the later ones were sent to it; requests without a session record none
    assert gw.wait_row(rows[0], key=key)["pinned"] is False
    assert {gw.wait_row(r, key=key)["pinned"] for r in rows[1:]} == {True}
    _, unpinned = send(gw, fault, key)
    assert gw.wait_row(unpinned, key=key)["pinned"] is None
    # and the query API filters on it
    found = gw.query(
        {"filter": {"request_response_rmt": {"pinned": {"equals": True}}}, "limit": 100}, key=key
    )
    assert {r["request_id"] for r in found} == set(rows[1:])


def test_new_sessions_spread_over_the_keys(gw, fault, org):
    _, key, _ = org
    firsts = [send(gw, fault, key, f"spread-{uuid.uuid4()}")[0][0] for _ in range(4)]
    assert sorted(firsts) == ["k1", "k1", "k2", "k2"], firsts


def test_a_failure_moves_the_pin_and_the_session_stays_where_it_moved(gw, fault, org):
    name, key, tag = org
    session = f"conv-{uuid.uuid4()}"
    [pinned_to], _ = send(gw, fault, key, session)
    other = "k2" if pinned_to == "k1" else "k1"
    path = f"/orgs/{name}/provider-keys/{pinned_to}"
    gw.admin("PATCH", path, {"config": {"base_url": fault.base_url(f"{tag}{pinned_to}", "500")}})
    served, rid = send(gw, fault, key, session)
    assert served == [pinned_to, other]  # sent to its pin first; that failed; the other key answered
    row = gw.wait_row(rid, key=key)
    assert row["pinned"] is True and [a["status"] for a in row["attempts"]] == [500, 200]

    gw.admin("PATCH", path, {"config": {"base_url": fault.base_url(f"{tag}{pinned_to}")}})  # healthy again
    for _ in range(3):
        assert send(gw, fault, key, session)[0] == [other]  # the cache is there now: no way back


def test_opting_out_rotates_a_session_like_any_request(gw, fault, org):
    _, key, _ = org
    session = f"conv-{uuid.uuid4()}"
    send(gw, fault, key, session)
    seen = set()
    for _ in range(4):
        rid = str(uuid.uuid4())
        mark = fault.mark()
        r = httpx.post(
            f"{gw.url}/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
            headers={
                "Authorization": f"Bearer {key}",
                "Helicone-Request-Id": rid,
                "Helicone-Session-Id": session,
                "Switchyard-Session-Affinity": "off",
            },
            timeout=30,
        )
        assert r.status_code == 200, r.text
        seen.add(fault.requests(since=mark)[0].provider[-2:])
    assert seen == {"k1", "k2"}
