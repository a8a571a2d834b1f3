"""The circuit breaker: after 5 failures in a row, a provider is skipped (no upstream request) while it is open.

This module has its own gateway with the default breaker settings (5 failures, 30 s open), and its own
provider `brk`, so no other test's faults count towards the threshold.
"""

from __future__ import annotations

import re

import httpx
import pytest

from support.fault_calls import STEADY, call, start_gateway, tag

THRESHOLD = 5  # routing.breaker.failures default


@pytest.fixture(scope="module")
def gw(fault, tmp_path_factory):
    g = start_gateway(
        tmp_path_factory.mktemp("breaker"),
        fault,
        {"brk": fault.provider("brk"), "steady": fault.provider("steady")},
    )
    yield g
    g.stop()


def _circuit_states(gw) -> dict[str, float]:
    """`switchyard_circuit_state{endpoint="..."}` samples from GET /metrics (0 closed, 1 half-open, 2 open)."""
    r = httpx.get(f"{gw.url}/metrics", headers=gw.headers(), timeout=5)
    assert r.status_code == 200, r.text[:300]
    out = {}
    for m in re.finditer(r'^switchyard_circuit_state\{[^}]*endpoint="([^"]+)"[^}]*\}\s+(\S+)$', r.text, re.M):
        out[m.group(1)] = float(m.group(2))
    return out


def test_five_failures_open_the_circuit_and_the_provider_is_skipped(gw, fault):
    run = tag()
    for i in range(THRESHOLD):  # each failure still reaches brk, then falls back
        mark = fault.mark()
        r = call(gw, f"fault-500.{run}/brk,{STEADY}")
        assert r.status == 200, (i, r.body[:300])
        assert [x.provider for x in fault.requests(since=mark)] == ["brk", "steady"], i
    brk = [state for endpoint, state in _circuit_states(gw).items() if endpoint.startswith("brk")]
    assert brk == [2.0], _circuit_states(gw)  # open

    mark = fault.mark()
    r = call(gw, f"healthy.{run}/brk,{STEADY}")  # brk would answer this one, but it is not asked
    assert r.status == 200 and r.headers.get("helicone-provider") == "steady"
    assert [x.provider for x in fault.requests(since=mark)] == ["steady"]
    # the other endpoints are unaffected
    assert all(
        state == 0.0 for endpoint, state in _circuit_states(gw).items() if not endpoint.startswith("brk")
    )
