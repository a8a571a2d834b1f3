"""Per-request policies for attempts, counted at the fault upstream: retries, timeouts and hedging.

Retries (Helicone-Retry-* headers, waits in ms): `fail<N>-<fault>.<tag>` fails the first N requests carrying
the tag, so the requests the upstream saw for the tag are the tries the gateway made. Timeouts
(Switchyard-*-Timeout-Ms headers, providers.<id>.*_timeout): a timed-out attempt falls back like any failure;
alone it is a 504. Hedging (Switchyard-Hedge-After-Ms): `fault-slow.<tag>` answers after 2 s, so a hedged
`steady` started 100 ms in wins by far; the slow attempt is cancelled (upstream connection dropped) and
logged as such.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from support.fault_calls import NO_BREAKER, STEADY, attempts, call, sdk_stream, start_gateway, tag
from support.fault_upstream import (
    SLOW_SECONDS,
    Blackhole,
    healthy_completion_text,
    healthy_text,
)

TIMEOUT_HEADERS = [
    "Switchyard-Timeout-Ms",
    "Switchyard-First-Byte-Timeout-Ms",
    "Switchyard-Connect-Timeout-Ms",
]
HEDGE = {"Switchyard-Hedge-After-Ms": "100"}


def retry(num: int = 3, min_ms: int = 10, max_ms: int = 200, factor: float = 1.5) -> dict[str, str]:
    return {
        "Helicone-Retry-Enabled": "true",
        "Helicone-Retry-Num": str(num),
        "Helicone-Retry-Factor": str(factor),
        "Helicone-Retry-Min-Timeout": str(min_ms),
        "Helicone-Retry-Max-Timeout": str(max_ms),
    }


@pytest.fixture(scope="module")
def blackhole() -> Iterator[Blackhole]:
    b = Blackhole()
    yield b
    b.close()


@pytest.fixture(scope="module")
def gw(fault, blackhole, tmp_path_factory):
    providers = {
        "flaky": fault.provider("flaky"),
        "steady": fault.provider("steady"),
        "hung": fault.provider("hung", first_byte_timeout=0.3),
        "blackhole": {"format": "openai", "base_url": f"{blackhole.url}/v1", "api_key": "x"},
    }
    # routing.retries stays at its default (off): retries happen only when a request asks for them. The
    # upstream defaults are short enough that a timeout the gateway fails to apply still ends the test, and
    # long enough to tell apart from the per-request ones.
    g = start_gateway(
        tmp_path_factory.mktemp("attempt-policies"),
        fault,
        providers,
        routing=NO_BREAKER,
        upstream={"connect_timeout": 4, "first_byte_timeout": 6},
    )
    yield g
    g.stop()


# -- retries -------------------------------------------------------------------------------------
def test_two_503s_then_success_is_one_answer_after_three_tries(gw, fault):
    model = f"fail2-503.{tag()}"
    r = call(gw, f"{model}/flaky", headers=retry())
    assert r.status == 200, r.body[:300]
    assert r.json()["choices"][0]["message"]["content"] == healthy_completion_text()
    assert len(fault.requests(model=model)) == 3
    row, tried = attempts(gw, r.request_id)
    assert row["response_status"] == 200 and not row["error"]
    assert [(a["provider"], a["status"]) for a in tried] == [("flaky", 503), ("flaky", 503), ("flaky", 200)]
    assert all(a["model"] == model for a in tried)


def test_a_stream_is_retried_before_it_commits(gw, fault):
    model = f"fail2-503.{tag()}"
    read = sdk_stream(gw, f"{model}/flaky", headers=retry())
    assert read.error is None and read.text == healthy_text()
    assert len(fault.requests(model=model)) == 3
    _, tried = attempts(gw, read.request_id)
    assert [a["status"] for a in tried] == [503, 503, 200]


def test_retries_run_out_then_the_plan_moves_on(gw, fault):
    model = f"fault-503.{tag()}"
    r = call(gw, f"{model}/flaky,{STEADY}", headers=retry(num=2))
    assert r.status == 200
    assert len(fault.requests(model=model)) == 3  # the first try and two retries
    _, tried = attempts(gw, r.request_id)
    assert [(a["provider"], a["status"]) for a in tried] == [("flaky", 503)] * 3 + [("steady", 200)]


def test_retries_run_out_alone_is_the_last_error(gw, fault):
    model = f"fault-503.{tag()}"
    r = call(gw, f"{model}/flaky", headers=retry(num=2))
    assert r.status == 503 and r.error()["message"]
    assert len(fault.requests(model=model)) == 3


def test_a_429_waits_for_retry_after(gw, fault):
    model = f"fail1-429.{tag()}"  # 429 with Retry-After: 1
    r = call(gw, f"{model}/flaky", headers=retry(max_ms=5000))
    assert r.status == 200, r.body[:300]
    first, second = fault.requests(model=model)
    assert second.at - first.at >= 0.95  # the upstream's word, not the 10 ms minimum of the headers
    assert r.elapsed < 3
    _, tried = attempts(gw, r.request_id)
    assert [a["status"] for a in tried] == [429, 200]


def test_x_should_retry_false_is_not_retried(gw, fault):
    model = f"fault-503noretry.{tag()}"
    r = call(gw, f"{model}/flaky", headers=retry())
    assert r.status == 503
    assert len(fault.requests(model=model)) == 1


def test_a_retry_after_beyond_the_max_wait_moves_on_at_once(gw, fault):
    model = f"fail1-429ra30.{tag()}"  # Retry-After: 30, max wait 500 ms
    r = call(gw, f"{model}/flaky,{STEADY}", headers=retry(max_ms=500))
    assert r.status == 200 and r.elapsed < 2
    assert r.headers.get("helicone-provider") == "steady"
    assert len(fault.requests(model=model)) == 1


def test_a_retry_after_beyond_the_max_wait_alone_is_a_429_passing_it_on(gw, fault):
    model = f"fault-429ra30.{tag()}"
    r = call(gw, f"{model}/flaky", headers=retry(max_ms=500))
    assert r.status == 429 and r.elapsed < 2
    assert r.headers["retry-after"] == "30"
    assert len(fault.requests(model=model)) == 1


def test_a_plain_400_is_never_retried(gw, fault):
    model = f"fault-400.{tag()}"
    r = call(gw, f"{model}/flaky", headers=retry())
    assert r.status == 400
    assert len(fault.requests(model=model)) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Helicone-Retry-Enabled": "false", "Helicone-Retry-Num": "3"}],
    ids=["no-header", "disabled"],
)
def test_without_the_header_nothing_is_retried(gw, fault, headers):
    model = f"fail1-503.{tag()}"
    r = call(gw, f"{model}/flaky", headers=headers)
    assert r.status == 503
    assert len(fault.requests(model=model)) == 1
    _, tried = attempts(gw, r.request_id)
    assert [a["status"] for a in tried] == [503]


# -- timeouts ------------------------------------------------------------------------------------
def _timed_out(r, gw, provider: str) -> None:
    assert r.status == 504, r.body[:300]
    assert "timed out" in r.error()["message"].lower()
    _, tried = attempts(gw, r.request_id)
    assert [(a["provider"], a["status"], a["kind"]) for a in tried] == [(provider, 504, "timeout")]


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_total_timeout_header(gw, fault, stream):
    r = call(gw, f"fault-slow.{tag()}/flaky", stream=stream, headers={"Switchyard-Timeout-Ms": "500"})
    assert r.elapsed < 1.5
    _timed_out(r, gw, "flaky")


def test_total_timeout_header_falls_back(gw, fault):
    r = call(gw, f"fault-slow.{tag()}/flaky,{STEADY}", headers={"Switchyard-Timeout-Ms": "500"})
    assert r.status == 200 and r.json()["choices"][0]["message"]["content"] == healthy_completion_text()
    assert r.elapsed < 1.5
    assert r.headers.get("helicone-provider") == "steady"


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_first_byte_timeout_header(gw, fault, stream):
    r = call(
        gw, f"fault-hang.{tag()}/flaky", stream=stream, headers={"Switchyard-First-Byte-Timeout-Ms": "300"}
    )
    assert r.elapsed < 1.5
    _timed_out(r, gw, "flaky")


def test_connect_timeout_header(gw, blackhole):
    r = call(gw, "gpt-4o-mini/blackhole", headers={"Switchyard-Connect-Timeout-Ms": "200"})
    assert r.elapsed < 1.5
    _timed_out(r, gw, "blackhole")


def test_connect_timeout_header_falls_back(gw, blackhole):
    r = call(gw, f"gpt-4o-mini/blackhole,{STEADY}", headers={"Switchyard-Connect-Timeout-Ms": "200"})
    assert r.status == 200 and r.elapsed < 1.5
    _, tried = attempts(gw, r.request_id)
    assert [(a["provider"], a.get("kind")) for a in tried] == [("blackhole", "timeout"), ("steady", None)]


def test_first_byte_timeout_from_provider_config(gw, fault):
    r = call(gw, f"fault-hang.{tag()}/hung")
    assert r.elapsed < 1.5
    _timed_out(r, gw, "hung")


def test_the_header_overrides_the_provider_config(gw, fault):
    """`hung` gives up after 300 ms by configuration; this caller is willing to wait for a 1 s answer."""
    r = call(gw, f"fault-slow1000.{tag()}/hung", headers={"Switchyard-First-Byte-Timeout-Ms": "3000"})
    assert r.status == 200, r.body[:300]
    assert r.json()["choices"][0]["message"]["content"] == healthy_completion_text()
    assert 0.9 < r.elapsed < 2.5


def test_a_generous_timeout_does_not_cut_a_healthy_answer(gw, fault):
    r = call(
        gw,
        f"fault-slow300.{tag()}/flaky",
        headers={"Switchyard-Timeout-Ms": "5000", "Switchyard-First-Byte-Timeout-Ms": "2000"},
    )
    assert r.status == 200, r.body[:300]


@pytest.mark.parametrize("value", ["abc", "-5", "1.5"])
@pytest.mark.parametrize("header", TIMEOUT_HEADERS)
def test_an_invalid_timeout_is_a_400_naming_the_header(gw, fault, header, value):
    model = f"fault-500.{tag()}"
    r = call(gw, f"{model}/flaky", headers={header: value})
    assert r.status == 400, r.body[:300]
    assert header.lower() in r.error()["message"].lower()
    assert not fault.requests(model=model)  # refused before anything was sent upstream


# -- hedging -------------------------------------------------------------------------------------
def _loser_cancelled(tried: list[dict], model: str) -> None:
    by_provider = {a["provider"]: a for a in tried}
    assert set(by_provider) == {"flaky", "steady"}, tried
    assert by_provider["steady"]["status"] == 200
    loser = by_provider["flaky"]
    assert loser["model"] == model and loser.get("kind") == "cancelled", loser


def test_a_slow_first_attempt_is_hedged(gw, fault):
    model = f"fault-slow.{tag()}"
    r = call(gw, f"{model}/flaky,{STEADY}", headers=HEDGE)
    assert r.status == 200, r.body[:300]
    assert r.json()["choices"][0]["message"]["content"] == healthy_completion_text()
    assert r.elapsed < 1.5  # the slow attempt answers after 2 s
    assert r.headers.get("helicone-provider") == "steady"
    row, tried = attempts(gw, r.request_id)
    assert row["provider"] == "steady" and row["response_status"] == 200
    _loser_cancelled(tried, model)


def test_a_slow_stream_is_hedged(gw, fault):
    model = f"fault-slow.{tag()}"
    read = sdk_stream(gw, f"{model}/flaky,{STEADY}", headers=HEDGE)
    assert read.error is None and read.text == healthy_text()
    assert read.elapsed < 1.5
    row, tried = attempts(gw, read.request_id)
    assert row["provider"] == "steady"
    _loser_cancelled(tried, model)


def test_the_losers_upstream_request_is_dropped(gw, fault):
    model = f"fault-slow.{tag()}"
    r = call(gw, f"{model}/flaky,{STEADY}", headers=HEDGE)
    assert r.status == 200
    deadline = time.monotonic() + 1.0  # well before the slow answer would be ready
    (slow,) = fault.requests(model=model)
    while not slow.disconnected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert slow.disconnected, "the gateway kept the hedged-out upstream request running"


def test_a_fast_first_attempt_is_not_hedged(gw, fault):
    mark = fault.mark()
    model = f"healthy.{tag()}"
    # a generous delay, so that a busy machine cannot make the fast answer look slow
    r = call(gw, f"{model}/flaky,{STEADY}", headers={"Switchyard-Hedge-After-Ms": "1000"})
    assert r.status == 200 and r.headers.get("helicone-provider") == "flaky"
    time.sleep(0.2)  # nothing may start late either
    assert [x.provider for x in fault.requests(since=mark)] == ["flaky"]
    _, tried = attempts(gw, r.request_id)
    assert [(a["provider"], a["status"]) for a in tried] == [("flaky", 200)]


def test_a_hedge_that_fails_leaves_the_slow_attempt_to_answer(gw, fault):
    """The parallel attempt failing is no reason to give up on the one still running."""
    model = f"fault-slow1000.{tag()}"
    r = call(gw, f"{model}/flaky,fault-500.{tag()}/steady", headers=HEDGE)
    assert r.status == 200, r.body[:300]
    assert r.headers.get("helicone-provider") == "flaky"
    assert 0.9 < r.elapsed < 2.0


def test_without_the_header_the_slow_answer_is_awaited(gw, fault):
    """The control case: no hedging unless asked, so the first attempt's slow answer is what the caller gets."""
    mark = fault.mark()
    r = call(gw, f"fault-slow.{tag()}/flaky,{STEADY}")
    assert r.status == 200 and r.headers.get("helicone-provider") == "flaky"
    assert r.elapsed >= SLOW_SECONDS * 0.9
    assert [x.provider for x in fault.requests(since=mark)] == ["flaky"]
