"""The upstream client's wait timeouts on one timer per pool (providers/http1_deadlines.py): every wait still
times out at its own deadline, whatever the other waits do, on asyncio and uvloop, and on a second loop."""

from __future__ import annotations

import asyncio
import time

import pytest
import uvloop

from support.raw_http import RawRequest, RawServer, response
from switchyard.providers.http1 import HTTPError, Pool
from switchyard.providers.http1_deadlines import Deadlines

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


async def _wait(d: Deadlines, timeout: float, answer_after: float | None = None) -> float:
    """Seconds until the wait ended with TimeoutError (or -1 when it was answered first)."""
    loop = asyncio.get_running_loop()
    w = loop.create_future()
    if answer_after is not None:
        loop.call_later(answer_after, lambda: w.done() or w.set_result(None))
    own = d.add(loop, w, timeout)
    t0 = time.monotonic()
    try:
        await w
        return -1.0
    except TimeoutError:
        return time.monotonic() - t0
    finally:
        d.end(w, own)


@pytest.mark.parametrize("loop", list(LOOPS))
def test_each_wait_times_out_at_its_own_deadline(loop) -> None:
    async def test() -> None:
        d = Deadlines()
        # a long wait first, then a shorter one (the timer moves forward), then one answered before its deadline
        # (the timer passes over it to the next)
        long_, short, answered, middle = await asyncio.gather(
            _wait(d, 0.6), _wait(d, 0.2), _wait(d, 0.1, answer_after=0.02), _wait(d, 0.4)
        )
        assert answered == -1.0
        assert 0.18 <= short < 0.55  # before the 0.6 s wait's deadline: the timer moved forward
        assert 0.38 <= middle < 1.0
        assert 0.58 <= long_ < 1.5
        assert not d._waits  # every wait took its deadline out

    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(test())


def test_a_cancelled_wait_leaves_no_deadline_and_the_others_still_fire() -> None:
    async def test() -> None:
        d = Deadlines()
        cancelled = asyncio.ensure_future(_wait(d, 0.1))
        later = asyncio.ensure_future(_wait(d, 0.3))
        await asyncio.sleep(0.02)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert len(d._waits) == 1
        assert 0.25 <= await later < 1.0

    asyncio.run(test())


def test_a_deadline_already_past_fails_at_the_next_iteration() -> None:
    async def test() -> None:
        d = Deadlines()
        assert 0 <= await _wait(d, -1.0) < 0.5
        assert 0 <= await _wait(d, 0.0) < 0.5

    asyncio.run(test())


def test_a_second_loop_gets_timers_of_its_own() -> None:
    d = Deadlines()
    asyncio.run(_wait(d, 0.05))  # the first loop: the shared timer
    with asyncio.Runner() as runner:  # a pool carried over to another loop: each wait times out as before
        assert 0.04 <= runner.run(_wait(d, 0.1)) < 0.8
        assert runner.run(_wait(d, 1.0, answer_after=0.01)) == -1.0
    assert not d._waits


@pytest.mark.parametrize("loop", list(LOOPS))
def test_a_silent_upstream_times_out_while_other_requests_are_answered(loop) -> None:
    """One request whose upstream never answers, others answered meanwhile on the same pool: the silent one
    fails at its read timeout, the rest are unaffected."""

    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        if req.target == "/silent":
            await asyncio.sleep(5)
            return False
        w.write(response(200, b"ok"))
        await w.drain()
        return True

    async def test() -> None:
        server = await RawServer(handler).start()
        pool = Pool()
        try:

            async def silent() -> float:
                t0 = time.monotonic()
                with pytest.raises(HTTPError) as err:
                    await pool.request(
                        "POST",
                        f"{server.url}/silent",
                        {},
                        b"{}",
                        connect_timeout=2,
                        read_timeout=0.4,
                        total_timeout=10,
                    )
                assert err.value.timeout
                return time.monotonic() - t0

            async def busy() -> None:
                for _ in range(20):
                    r = await pool.request(
                        "POST",
                        f"{server.url}/ok",
                        {},
                        b"{}",
                        connect_timeout=2,
                        read_timeout=5,
                        total_timeout=10,
                    )
                    assert await r.read() == b"ok"
                    await asyncio.sleep(0.01)

            took, _ = await asyncio.gather(silent(), busy())
            assert 0.38 <= took < 2.0
        finally:
            await pool.close()
            await server.stop()

    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(asyncio.wait_for(test(), 30))
