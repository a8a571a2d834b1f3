"""The circuit breaker keeps BYOK keys apart per organisation: organisation A's key `main` is rejected by the
provider (401, which opens its circuit at once), and organisation B's own key also called `main` keeps getting
B's traffic — it is not ejected with A's, so B's requests do not move to the operator's key."""

from __future__ import annotations

import time

import httpx
import pytest

from support.fault_calls import byok_gateway

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def gw(fault, tmp_path_factory):
    g = byok_gateway(tmp_path_factory.mktemp("breaker-org"), fault)
    yield g
    g.stop()


def org_with_byok_main(gw, name: str, base_url: str) -> tuple[str, str]:
    """(organisation id, gateway key) of a new organisation whose own openai key is called `main`."""
    org = gw.admin("POST", "/orgs", {"name": name})
    key = gw.admin("POST", f"/orgs/{name}/keys", {"name": "breaker"})["key"]
    gw.admin(
        "POST",
        f"/orgs/{name}/provider-keys",
        {
            "provider": "openai",
            "key": f"sk-{name}-own-key-0123456789",
            "id": "main",
            "config": {"base_url": base_url},
        },
    )
    return org["id"], key


def served_by(gw, fault, key: str) -> list[str]:
    mark = fault.mark()
    r = httpx.post(
        f"{gw.url}/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert r.status_code == 200, r.text
    return [x.provider for x in fault.requests(since=mark)]


def test_one_orgs_rejected_key_does_not_eject_another_orgs_key_of_the_same_name(gw, fault):
    run = time.time_ns()
    a_id, a_key = org_with_byok_main(gw, f"brk-a-{run}", fault.base_url("orga", "401"))
    b_id, b_key = org_with_byok_main(gw, f"brk-b-{run}", fault.base_url("orgb"))

    # A's key is rejected (its circuit opens) and the operator's key answers
    assert served_by(gw, fault, a_key) == ["orga", "ptb"]
    assert served_by(gw, fault, a_key) == ["ptb"]  # A's circuit is open: its key is skipped
    assert served_by(gw, fault, b_key) == ["orgb"]  # B's own `main` is untouched
    assert served_by(gw, fault, b_key) == ["orgb"]

    health = {row["endpoint"]: row for row in gw.admin("GET", "/health")}
    assert health[f"openai:byok:{a_id}:main"]["state"] == "open"
    assert not any(b_id in endpoint for endpoint in health)  # B's key never failed

    metrics = httpx.get(f"{gw.url}/metrics", timeout=10).text
    assert 'switchyard_circuit_state{endpoint="openai:byok"} 2.0' in metrics
    assert a_id not in metrics and b_id not in metrics and ":main" not in metrics
