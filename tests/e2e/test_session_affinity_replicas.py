"""Session affinity across replicas: two `switchyard serve` processes on one PostgreSQL schema and one Redis
prefix, an organisation with two OpenAI keys of its own. A session's turns alternate between the replicas (as a
round-robin load balancer sends them) and every turn reaches the same key; the unpinned traffic on each replica
still alternates between the keys. Under CI=true a missing Redis or PostgreSQL fails this test."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import httpx
import pytest

from support.gateway import GatewayProcess
from support.replicas import two_replicas

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

ADMIN_KEY = "sy-admin-affinity-" + secrets.token_hex(8)
MODEL = "gpt-4o-mini/openai"


@pytest.fixture(scope="module")
def replicas(fault, tmp_path_factory) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    homes = (tmp_path_factory.mktemp("affinity-a"), tmp_path_factory.mktemp("affinity-b"))
    with two_replicas(
        "affinity",
        homes,
        fault.url,
        providers={"openai": fault.provider("ptb", None)},
        admin={"key": ADMIN_KEY},
    ) as both:
        yield both


def send(gw: GatewayProcess, fault, session: str | None = None, ids: list[str] | None = None) -> str:
    """The key (k1/k2) that served one chat request through replica `gw` (its request id added to `ids`)."""
    rid = str(uuid.uuid4())
    if ids is not None:
        ids.append(rid)
    headers = {**gw.headers(), "Helicone-Request-Id": rid}
    if session is not None:
        headers["Helicone-Session-Id"] = session
    mark = fault.mark()
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    [served] = fault.requests(since=mark)
    return served.provider[-2:]


def test_a_session_keeps_its_key_whichever_replica_serves_it(replicas, fault):
    a, b = replicas
    tag = secrets.token_hex(4)
    for kid in ("k1", "k2"):
        r = httpx.post(
            f"{a.url}/admin/v1/orgs/test/provider-keys",
            json={
                "provider": "openai",
                "key": f"sk-affinity-{kid}-0123456789",
                "id": kid,
                "config": {"base_url": fault.base_url(f"{tag}{kid}")},
            },
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
    sessions = [f"conv-{uuid.uuid4()}" for _ in range(4)]
    pinned = {s: send(a if i % 2 else b, fault, s) for i, s in enumerate(sessions)}
    assert set(pinned.values()) == {"k1", "k2"}, pinned  # new sessions spread over the keys
    later: list[str] = []
    for turn in range(3):
        for i, s in enumerate(sessions):
            gw = (a, b)[(i + turn) % 2]  # every turn on the other replica than the one before
            assert send(gw, fault, s, later) == pinned[s], (turn, s)
    # not by chance (each replica's rotation is deterministic): every later turn found its pin, the first
    # turn on a replica included, which only Redis could have told it
    for rid in later:
        assert a.wait_row(rid, timeout=20)["pinned"] is True, rid
    for gw in (a, b):
        free = [send(gw, fault) for _ in range(4)]
        assert free in (["k1", "k2"] * 2, ["k2", "k1"] * 2), free
