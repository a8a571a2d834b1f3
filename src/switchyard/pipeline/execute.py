"""Execute a plan: attempts in order (or hedged in parallel) until one answers.

Per attempt: skip it if its circuit is open; reserve credits if it is billed to them (PTB); call it (`call.py`),
retrying transient failures as the retry policy allows; record every try in the log; report the outcome to the
circuit breaker. Which failures move on to the next attempt (the rules: `fallback.py`):
- connection errors, timeouts, 408, 409, 429, 5xx, a provider's 401/403 (its key is bad), an unreadable 200,
  404 and "this provider can't serve this" — the next provider may well succeed;
- a context-length 400 moves on only to attempts whose model has a larger context window;
- insufficient credits skips the remaining credit-billed (PTB) attempts; the organisation's own keys still run;
- an endpoint whose circuit is open is skipped while another endpoint of the plan is usable (and tried anyway
  when none is: a breaker must not turn one provider's trouble into a certain failure);
- any other 400 stops: every provider would reject that request.

A stream commits at its first caller-visible content (`call.open_stream`): before it, every failure can fall
back; after it, a failure ends the stream with an error event in the caller's format — or, with
`Switchyard-Stream-Continuation: true`, resumes on the next attempt (`continuation.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..errors import redact
from ..providers.base import Provider, UpstreamError
from ..providers.transport import Timeouts, Transport
from .call import Answer, Caller, StreamStart
from .committed_stream import OpenStream, settle
from .context import AttemptLog, RequestContext
from .credits import Credits, Hold
from .exchange import Exchange
from .fallback import Run, eligible, final_error, moves_on
from .order import order
from .plan import Attempt
from .retry import RetryPolicy

# Failures that say something about the provider's health (the rest are the request's or the gateway's own).
_HEALTH_KINDS = frozenset({"connection", "timeout", "rate_limited", "overloaded", "server", "auth"})
_NO_RETRY = RetryPolicy(0)


class Executor:
    def __init__(
        self,
        transport: Transport,
        providers: Mapping[str, Provider],
        *,
        health: Any = None,
        metrics: Any = None,
        credits: Credits | None = None,
        provider_timeouts: Mapping[str, Timeouts] | None = None,
    ) -> None:
        self.call = Caller(transport, providers)
        self.transport = transport
        self.providers = providers
        self.health = health
        self.metrics = metrics
        self.credits = credits
        self._timeouts = dict(provider_timeouts or {})
        self.pins: Any = None  # session affinity (session_pins.SessionPins), set by deps

    def timeouts(self, ctx: RequestContext, attempt: Attempt) -> Timeouts:
        base = self._timeouts.get(attempt.provider.id, self.transport.timeouts)
        return ctx.options.timeouts(base) if ctx.options is not None else base

    # -- entry points ----------------------------------------------------------------------------
    async def complete(self, x: Exchange) -> bytes:
        """The answer's bytes for the caller, from the first attempt that answers. Raises GatewayError if none does."""
        ctx, body, surface = x.ctx, x.body, x.surface

        def op(a: Attempt) -> Awaitable[Answer]:
            return self.call.complete(ctx, a, body, surface, self.timeouts(ctx, a))

        attempt, answer, hold = await self._run(ctx, x.attempts, body, op, _drop_answer)
        settle(ctx, attempt, answer.usage, answer.model)
        ctx.response_body = answer.logged
        self.end_hold(ctx, hold, answered=True)
        return answer.data

    async def open_stream(
        self, x: Exchange, attempts: list[Attempt] | None = None, body: dict[str, Any] | None = None
    ) -> OpenStream:
        """Try attempts until one yields its first caller content. Raises GatewayError if none does. A continuation
        passes the attempts left and the body that continues the broken stream."""
        ctx, surface, include_usage = x.ctx, x.surface, x.include_usage
        attempts = x.attempts if attempts is None else attempts
        sent = x.body if body is None else body

        def op(a: Attempt) -> Awaitable[StreamStart]:
            return self.call.open_stream(ctx, a, sent, surface, include_usage, self.timeouts(ctx, a))

        attempt, start, hold = await self._run(ctx, attempts, sent, op, StreamStart.close)
        ctx.provider, ctx.model = attempt.provider.id, attempt.provider_model_id
        ctx.registry_model = attempt.model.id if attempt.model else None
        return OpenStream(self, x, attempt, start, hold, sent)

    def end_hold(self, ctx: RequestContext, hold: Hold | None, *, answered: bool) -> None:
        """The one place a credit hold ends: the answering attempt's is charged its real cost (nothing when its
        usage is unknown), every other one is released."""
        if hold is None or self.credits is None:
            return
        if answered:
            self.credits.settle(hold, ctx.cost_usd, ctx.helicone.request_id)
        else:
            self.credits.release(hold)

    # -- the attempt loop ------------------------------------------------------------------------
    async def _run(
        self,
        ctx: RequestContext,
        attempts: list[Attempt],
        body: dict[str, Any],
        op: Callable[[Attempt], Awaitable[Any]],
        discard: Callable[[Any], None],
    ) -> tuple[Attempt, Any, Hold | None]:
        run = Run(body)
        health = self.health
        pin = await self.pins.lookup(ctx) if self.pins is not None else None  # session affinity
        queue = deque(order(attempts, health, pin.target if pin is not None else None))
        if pin is not None:
            self.pins.first(ctx, pin, queue[0] if queue else None)
        if health is not None and health.any_unhealthy:
            # Envoy's "panic mode": the breaker routes around a failing endpoint when there is somewhere else to
            # go; when every endpoint is ejected, failing fast would turn one provider's trouble into a total
            # outage for the caller, so they are all tried as usual.
            run.panic = all(health.score(a.endpoint_id) == 2 for a in queue)
        hedge = ctx.options.hedge_after if ctx.options is not None else None
        if hedge is not None and len(queue) > 1:
            return self._pinned(pin, await self._hedged(ctx, queue, op, discard, run, hedge))
        while queue:
            attempt = queue.popleft()
            if not eligible(attempt, run):
                continue
            try:
                return self._pinned(pin, await self._attempt(ctx, attempt, op, run))
            except UpstreamError as e:
                if not moves_on(attempt, e, run):
                    break
                if queue and self.metrics is not None:
                    self.metrics.fallback(attempt.provider.id, e.kind)
        raise final_error(run.errors)

    async def _hedged(
        self,
        ctx: RequestContext,
        queue: deque[Attempt],
        op: Callable[[Attempt], Awaitable[Any]],
        discard: Callable[[Any], None],
        run: Run,
        after: float,
    ) -> tuple[Attempt, Any, Hold | None]:
        """Start the next attempt whenever the newest one has not answered within `after` seconds; the first
        answer wins and the others are cancelled (logged as such)."""
        running: dict[asyncio.Task[Any], Attempt] = {}

        def launch(note: str | None) -> bool:
            while queue:
                a = queue.popleft()
                if eligible(a, run):
                    running[asyncio.ensure_future(self._attempt(ctx, a, op, run, note))] = a
                    return True
            return False

        launch(None)
        try:
            while running:
                timeout = after if queue else None
                done, _ = await asyncio.wait(running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    if launch("hedge") and self.metrics is not None:
                        self.metrics.hedge("started")
                    continue
                winner = None
                for task in done:
                    a = running.pop(task)
                    try:
                        result = task.result()
                    except UpstreamError as e:
                        if not moves_on(a, e, run):
                            queue.clear()
                        continue
                    if winner is None:
                        winner = result
                    else:  # two answered in the same instant: keep one, give the other back
                        self._give_back(ctx, result, discard)
                if winner is not None:
                    if self.metrics is not None and run.tries > 1:
                        self.metrics.hedge("won")
                    return winner
                if not running:
                    launch(None)
        finally:
            for task in running:
                task.cancel()
            for task in list(running):
                with contextlib.suppress(BaseException):
                    result = await task
                    self._give_back(ctx, result, discard)
        raise final_error(run.errors)

    def _pinned(self, pin: Any, result: tuple[Attempt, Any, Hold | None]) -> tuple[Attempt, Any, Hold | None]:
        if pin is not None:
            self.pins.served(pin, result[0])  # the attempt that answered is the session's pin from now on
        return result

    def _give_back(
        self, ctx: RequestContext, result: tuple[Attempt, Any, Hold | None], discard: Callable[[Any], None]
    ) -> None:
        _, value, hold = result
        discard(value)
        self.end_hold(ctx, hold, answered=False)

    async def _attempt(
        self,
        ctx: RequestContext,
        attempt: Attempt,
        op: Callable[[Attempt], Awaitable[Any]],
        run: Run,
        note: str | None = None,
    ) -> tuple[Attempt, Any, Hold | None]:
        """One attempt: breaker check, credit reservation, then tries with retries. Failures are recorded and
        re-raised as UpstreamError."""
        health = self.health
        endpoint = attempt.endpoint_id
        if health is not None and not health.allow(endpoint) and not run.panic:
            e = UpstreamError(
                503,
                "circuit_open",
                f"{attempt.route} is temporarily ejected after repeated failures (circuit breaker open)",
            )
            ctx.attempts.append(
                AttemptLog(
                    attempt.provider.id,
                    attempt.provider_model_id,
                    attempt.source,
                    error=e.message,
                    kind=e.kind,
                    note=note,
                )
            )
            run.errors.append((attempt, e))
            raise e
        hold: Hold | None = None
        credits = self.credits
        if credits is not None and credits.applies(ctx, attempt):
            run.holds += 1
            try:
                hold = await credits.reserve(ctx, attempt, run.body, run.holds)
            except UpstreamError as e:
                ctx.attempts.append(
                    AttemptLog(
                        attempt.provider.id,
                        attempt.provider_model_id,
                        attempt.source,
                        status=e.status,
                        error=e.message,
                        kind=e.kind,
                        note=note,
                    )
                )
                run.errors.append((attempt, e))
                raise
        policy = ctx.options.retry if ctx.options is not None else _NO_RETRY
        retry_no = 0
        while True:
            run.tries += 1
            alog = AttemptLog(
                attempt.provider.id, attempt.provider_model_id, attempt.source, retry=retry_no, note=note
            )
            ctx.attempts.append(alog)
            t0 = time.perf_counter()
            try:
                result = await op(attempt)
            except UpstreamError as e:
                _failed(alog, e, t0, ctx)
                alog.adjustments = getattr(e, "adjustments", None) or None
                self._observe(attempt, e.kind)
                delay = policy.delay(retry_no, e)
                if delay is None:
                    self.end_hold(ctx, hold, answered=False)
                    run.errors.append((attempt, e))
                    raise
                if self.metrics is not None:
                    self.metrics.retry(attempt.provider.id)
                retry_no += 1
                await asyncio.sleep(delay)
                continue
            except asyncio.CancelledError:
                alog.kind, alog.error = (
                    "cancelled",
                    "cancelled: another attempt answered first, or the caller left",
                )
                alog.latency_ms = (time.perf_counter() - t0) * 1000
                self.end_hold(ctx, hold, answered=False)
                raise
            alog.status = 200
            alog.adjustments = getattr(result, "adjustments", None) or None
            alog.latency_ms = (time.perf_counter() - t0) * 1000
            ctx.upstream_ms += alog.latency_ms
            self._observe(attempt, "ok")
            return attempt, result, hold

    def _observe(self, attempt: Attempt, outcome: str) -> None:
        if self.health is not None:
            if outcome == "ok":
                self.health.success(attempt.endpoint_id)
            elif outcome in _HEALTH_KINDS:
                self.health.failure(attempt.endpoint_id, outcome)
        if self.metrics is not None:
            self.metrics.attempt(attempt.provider.id, outcome)


def _drop_answer(_: Answer) -> None:
    return None


def _failed(alog: AttemptLog, e: UpstreamError, t0: float, ctx: RequestContext) -> None:
    alog.status, alog.error, alog.kind = e.status, redact(e.message), e.kind
    alog.latency_ms = (time.perf_counter() - t0) * 1000
    ctx.upstream_ms += alog.latency_ms
