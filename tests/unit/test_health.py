"""pipeline/health.py: the circuit breaker's transitions, driven by a fake clock."""

from __future__ import annotations

import pytest

from switchyard.config import BreakerSettings
from switchyard.pipeline.health import Health

EP = "openai:ptb"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(
    clock: Clock, failures: int = 3, open_seconds: float = 10.0, max_open_seconds: float = 35.0, **kw: object
) -> Health:
    settings = BreakerSettings(
        failures=failures, open_seconds=open_seconds, max_open_seconds=max_open_seconds
    )
    return Health(settings, clock, wall=lambda: 1_700_000_000.0 + clock.now, **kw)  # type: ignore[arg-type]


def trip(h: Health, endpoint: str = EP, kind: str = "server", n: int = 3) -> None:
    for _ in range(n):
        h.failure(endpoint, kind)


def state(h: Health, endpoint: str = EP) -> dict[str, object]:
    [row] = [r for r in h.snapshot() if r["endpoint"] == endpoint]
    return row


def test_unknown_endpoint_is_closed_and_healthy(clock):
    h = make(clock)
    assert h.allow(EP)
    assert h.score(EP) == 0
    assert h.state(EP) == "closed"
    assert not h.any_unhealthy
    assert h.snapshot() == []


def test_consecutive_failures_open_the_circuit(clock):
    h = make(clock)
    trip(h, n=2)
    assert h.allow(EP) and h.state(EP) == "closed"
    assert h.score(EP) == 1  # degraded: recent failures
    h.failure(EP, "timeout")
    assert h.state(EP) == "open"
    assert not h.allow(EP)
    assert h.score(EP) == 2
    row = state(h)
    assert row["consecutive_failures"] == 3
    assert row["last_error_kind"] == "timeout"
    assert row["opened_at"] == 1_700_000_000.0 + clock.now
    assert row["retry_in_seconds"] == 10.0


def test_a_success_resets_the_streak(clock):
    h = make(clock)
    trip(h, n=2)
    h.success(EP)
    trip(h, n=2)
    assert h.allow(EP) and h.state(EP) == "closed"
    h.failure(EP, "server")
    assert not h.allow(EP)


@pytest.mark.parametrize(
    "kind", ["connection", "timeout", "server", "overloaded", "rate_limited", "brand_new_kind"]
)
def test_counted_kinds(clock, kind):
    h = make(clock)
    trip(h, kind=kind)
    assert not h.allow(EP)


@pytest.mark.parametrize(
    "kind", ["bad_request", "context_length", "not_found", "unsupported", "circuit_open", "cancelled"]
)
def test_callers_mistakes_are_not_counted(clock, kind):
    h = make(clock)
    trip(h, kind=kind, n=10)
    assert h.allow(EP) and h.score(EP) == 0
    assert not h.any_unhealthy
    trip(h, n=2)
    h.failure(EP, kind)  # does not break the streak either
    h.failure(EP, "server")
    assert not h.allow(EP)


def test_auth_opens_at_once(clock):
    h = make(clock)
    h.failure(EP, "auth")
    assert not h.allow(EP)
    assert state(h)["last_error_kind"] == "auth"


def test_open_then_single_probe_then_close(clock):
    h = make(clock)
    trip(h)
    clock.advance(9.5)
    assert not h.allow(EP)
    clock.advance(0.5)
    assert h.state(EP) == "half_open"
    assert h.score(EP) == 0  # probe due: keeps its place so a real request probes it
    assert h.allow(EP)  # the probe
    assert not h.allow(EP) and not h.allow(EP)  # exactly one
    assert h.score(EP) == 2
    assert state(h)["state"] == "half_open"
    h.success(EP)
    assert h.state(EP) == "closed" and h.allow(EP) and h.allow(EP)
    assert not h.any_unhealthy  # forgotten


def test_failed_probe_doubles_the_open_period_up_to_the_cap(clock):
    h = make(clock)  # 10 s, capped at 35 s
    trip(h)
    periods = []
    for _ in range(4):
        start = clock.now
        while not h.allow(EP):
            clock.advance(0.5)
        periods.append(clock.now - start)
        h.failure(EP, "connection")  # the probe fails
        assert h.state(EP) == "open"
    assert periods == [10.0, 20.0, 35.0, 35.0]
    assert state(h)["consecutive_failures"] == 7


def test_success_resets_the_open_period(clock):
    h = make(clock)
    trip(h)
    clock.advance(10)
    assert h.allow(EP)
    h.failure(EP, "server")  # probe fails: 20 s
    clock.advance(20)
    assert h.allow(EP)
    h.success(EP)
    trip(h)  # opens again with the base period, not 40 s
    clock.advance(10)
    assert h.allow(EP)


def test_lost_probe_does_not_wedge_the_circuit(clock):
    h = make(clock)
    trip(h)
    clock.advance(10)
    assert h.allow(EP)  # probe handed out, its request cancelled: it never reports
    clock.advance(9.5)
    assert not h.allow(EP)
    assert h.score(EP) == 2
    clock.advance(0.5)
    assert h.score(EP) == 0
    assert h.allow(EP)  # a new probe
    assert not h.allow(EP)


def test_probe_answered_with_a_callers_mistake_frees_the_probe(clock):
    h = make(clock)
    trip(h)
    clock.advance(10)
    assert h.allow(EP)
    h.failure(EP, "bad_request")  # no verdict on the endpoint
    assert h.state(EP) == "half_open"
    assert h.allow(EP)  # the next caller probes at once


def test_straggler_failures_while_open_do_not_extend_it(clock):
    h = make(clock)
    trip(h)
    clock.advance(5)
    trip(h, n=5)  # requests that were in flight when it opened
    clock.advance(5)
    assert h.allow(EP)


def test_recent_failures_age_back_to_healthy(clock):
    h = make(clock)
    h.failure(EP, "timeout")
    assert h.score(EP) == 1
    clock.advance(10)
    assert h.score(EP) == 0
    assert h.any_unhealthy  # conservative: something is still tracked


def test_endpoints_are_independent(clock):
    h = make(clock)
    trip(h, "anthropic:byok:key-1")
    assert not h.allow("anthropic:byok:key-1")
    assert h.allow("anthropic:ptb") and h.allow(EP)
    assert [r["endpoint"] for r in h.snapshot()] == ["anthropic:byok:key-1"]


def test_any_unhealthy(clock):
    h = make(clock)
    assert not h.any_unhealthy
    h.failure(EP, "server")
    assert h.any_unhealthy
    h.success(EP)
    assert not h.any_unhealthy


def test_snapshot_rows(clock):
    h = make(clock)
    h.failure("a", "timeout")
    trip(h, "b", kind="overloaded")
    clock.advance(4)
    rows = {r["endpoint"]: r for r in h.snapshot()}
    assert rows["a"] == {
        "endpoint": "a",
        "state": "closed",
        "consecutive_failures": 1,
        "opened_at": None,
        "retry_in_seconds": 0.0,
        "last_error_kind": "timeout",
    }
    assert rows["b"] == {
        "endpoint": "b",
        "state": "open",
        "consecutive_failures": 3,
        "opened_at": 1_700_000_000.0 + 1000.0,
        "retry_in_seconds": 6.0,
        "last_error_kind": "overloaded",
    }
    clock.advance(6)
    assert {r["endpoint"]: r["state"] for r in h.snapshot()}["b"] == "half_open"


def test_memory_is_bounded_and_open_circuits_outlive_closed_ones(clock):
    h = make(clock, max_tracked=10)
    trip(h, "open-one")
    for i in range(100):
        h.failure(f"ep-{i}", "server")
    assert len(h.snapshot()) <= 10
    assert not h.allow("open-one")  # closed entries were evicted first
    assert h.allow("ep-0")  # forgotten: closed, healthy
