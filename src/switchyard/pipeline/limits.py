"""Rate limits and USD budgets: which rules apply to a request, admission before the call, settlement after.

Rules of one request: the `Helicone-RateLimit-Policy` header (see `ratelimit_policy.py`), the gateway key's
configured limits and its organisation's. Counters (one per metric, window and scope):

    header policy   key id [+ user | + property name and value]    (Helicone: per API key, then segment)
    per "key"       gateway key id
    per "org"       organisation id
    per "user"      organisation id + Helicone-User-Id
    per "property"  organisation id + property name + value

A request without the user id or property a rule segments by is counted under the empty value: all such
requests of the key (or organisation) share one counter, so omitting a header never escapes a limit.

Metrics. `requests`: admitted while fewer than `limit` are logged in the window; 1 is logged at admission (a
failed call still counts: it still cost a slot). `tokens`: admitted while fewer than `limit` tokens are logged;
the real total is logged after the call, so a window can overshoot by one request's tokens. `usd` (configured
budgets and `u=cents` policies): admitted only while settled + reserved-in-flight < limit; the request reserves
its worst-case cost (`observe.cost.worst_case_usd`, the maximum over the plan's attempts, `n` included), and
settlement replaces the reservation with the real cost (`ctx.cost_usd`, 0 when unknown or on a cache hit) — or
just drops it when nothing was paid. Attempts on the gateway's keys without a known worst case are dropped first,
and a request left with none is a 400 `price_unknown` (`spend.py`; `limits.allow_unpriced` turns this off).

Why a budget is never exceeded by more than one request's real cost. Take any instant t and the requests whose
cost counts at t; let n be the last of them to be admitted, at a ≤ t. Each earlier one was, at a, either
settled — its cost was logged at some s ≤ a and stays counted until its bucket stamp (never before s) plus a
window, which is after t ≥ a, so it was counted at a too — or in flight, holding a reservation ≥ its real cost.
So Σ real costs of the earlier ones ≤ settled(a) + reserved(a) < limit (n's admission test), and the total at t
is below limit + cost(n). Backends are atomic per operation (asyncio in process, one Lua script on Redis), so
"at a" is well defined even with 200 concurrent admissions. The bound needs every attempt's worst case to be
known, which is why unpriced PTB attempts are refused under a USD rule; the exceptions (the organisation's own
keys, `limits.allow_unpriced`) reserve 0 and count their real cost, if known, when they settle. A reservation
older than `credits.reservation_ttl_seconds` (a crashed replica) lapses.

Memory. Header policy windows are capped (`limits.max_policy_window_seconds`, 31 days; longer is a 400), and
per-user and per-property counters per gateway key or organisation (`limits.max_segment_counters`; the least
recently used is dropped and starts afresh — as a caller sending a new user id could do anyway; the key's and
organisation's own counters are never dropped). `switchyard_limiter_counters` on /metrics counts live ones.

Without Redis, counters live in the process: limits then hold per process, so with `server.workers` > 1 or
several replicas, set `redis.url`. With it, counters live in Redis and hold across replicas. Redis unreachable
or slower than `redis.timeout_ms`: `on_failure: open` admits through an in-process limiter (limits then hold per
replica, not in total, until Redis is back), `closed` answers 503 `limits_unavailable`. Either way the error is
counted and Redis is probed again after a second, so limits recover on their own. Requests without any rule
never touch Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any, cast

from ..errors import GatewayError
from ..ids import new_request_id
from ..stores.limiter_types import NANO_PER_USD, TOKENS, USD, Charge, Decision, Limiter, LocalLimiter
from .limit_rules import Binding, Rule, bind, rejection, resolve_rules
from .ratelimit_policy import PolicyCache, RateLimitPolicy, policy_header
from .spend import bounded_attempts, check_choices

log = logging.getLogger("switchyard.limits")

_RETRY_REDIS_AFTER = 1.0  # seconds between probes while Redis is down
_MAX_BINDINGS = 1024  # (policy header, key, organisation) bindings kept; all dropped when full


class Admission:
    """What one admitted request holds until it is settled (exactly once, after the answer)."""

    __slots__ = ("_backend", "_done", "_kept", "_limits", "_rid", "_rules", "headers")

    def __init__(
        self,
        limits: Limits | None,
        backend: Any,
        rid: str,
        rules: list[Rule],
        headers: list[tuple[bytes, bytes]],
        kept: list[Any] | None = None,
        settles: bool = True,
    ) -> None:
        self._limits, self._backend, self._rid, self._rules = limits, backend, rid, rules
        self.headers = headers  # Helicone-RateLimit-* for the response, when a header policy is active
        # nothing to settle without a tokens or usd rule: a request count is final at admission
        self._done = not rules or not settles
        self._kept = kept  # the attempts a USD rule lets run, when it dropped some

    def attempts(self, planned: list[Any]) -> list[Any]:
        """The attempts this request may run: the plan, less those a USD rule cannot bound."""
        return planned if self._kept is None else self._kept

    def _settlement(self, ctx: Any) -> list[Charge]:
        cost = 0.0 if ctx.cache_hit or not ctx.cost_usd else max(0.0, ctx.cost_usd)
        tokens = 0 if ctx.cache_hit or ctx.usage is None else ctx.usage.total_tokens
        out = []
        for r in self._rules:
            c = r.charge
            if c.metric == USD:
                amount = math.ceil(cost * NANO_PER_USD)
                if amount or c.amount:  # a real cost to log, or a reservation to drop
                    out.append(Charge(c.counter, USD, c.limit, c.window_ms, amount, c.group))
            elif c.metric == TOKENS and tokens > 0:
                out.append(Charge(c.counter, TOKENS, c.limit, c.window_ms, tokens, c.group))
        return out

    def _take(self, ctx: Any) -> list[Charge]:
        """The settlement, once: later calls get nothing."""
        if self._done:
            return []
        self._done = True
        return self._settlement(ctx)

    async def settle(self, ctx: Any) -> None:
        """Log real cost and tokens, drop the reservation. Never raises: a failure only leaves the reservation
        to lapse (which errs on the strict side)."""
        charges = self._take(ctx)
        if not charges:
            return
        if self._backend.local:
            self._backend.settle_now(self._rid, charges)
        elif self._limits is not None:
            await self._limits._remote("settle", self._backend.settle(self._rid, charges), always=True)


NO_LIMITS = Admission(None, None, "", [], [])


class Limits:
    """The policy over a limiter backend (`stores/wiring.open_limiters` builds them): the in-process one, or a
    shared one (Redis) with an in-process `fallback` for `on_failure: open`."""

    def __init__(
        self,
        backend: Limiter,
        *,
        fallback: LocalLimiter | None = None,
        on_failure: str = "open",
        timeout_ms: int = 250,
        max_n: int = 128,
        allow_unpriced: bool = False,
        max_policy_window_s: int = 31 * 24 * 3600,
    ) -> None:
        if backend.local:  # in process: the backend is its own fallback
            fallback = cast(LocalLimiter, backend)
        elif fallback is None:
            raise ValueError("a shared limiter needs an in-process fallback")
        self.fallback: LocalLimiter = fallback
        self.backend: Limiter = backend
        self.metrics: Any = None  # observe.metrics.Metrics when the gateway has one
        self._on_failure = on_failure
        self._timeout = timeout_ms / 1000
        self._max_n, self._allow_unpriced = max_n, allow_unpriced
        self._policies = PolicyCache(max_policy_window_s)
        self._bindings: dict[tuple[str | None, str, str], Binding] = {}
        self._pending: set[asyncio.Task[Any]] = set()
        self._down_until = 0.0  # monotonic; 0: Redis believed healthy
        self._probing = False

    @classmethod
    def build(cls, settings: Any, limiters: tuple[Limiter, LocalLimiter], *, metrics: Any = None) -> Limits:
        """Limits over `limiters` = (backend, in-process fallback), from `stores.wiring.open_limiters`."""
        backend, fallback = limiters
        ls, rs = settings.limits, settings.redis
        limits = cls(
            backend,
            fallback=fallback,
            on_failure=rs.on_failure,
            timeout_ms=rs.timeout_ms,
            max_n=ls.max_n,
            allow_unpriced=ls.allow_unpriced,
            max_policy_window_s=ls.max_policy_window_seconds,
        )
        limits.metrics = metrics
        if metrics is not None and hasattr(metrics, "bind_limits"):
            metrics.bind_limits(limits)
        return limits

    def live_counters(self) -> dict[str, int]:
        """Live counters per backend, for /metrics: the in-process ones (exact), and Redis's (as of the last
        admission that touched Redis; absent until one has)."""
        out = {"memory": len(self.fallback)}
        if self.shared and self.backend.live is not None:
            out["redis"] = self.backend.live
        return out

    def evictions(self) -> dict[str, int]:
        """Segment counters dropped to stay under `limits.max_segment_counters`, per backend."""
        out = {"memory": self.fallback.evicted}
        if self.shared:
            out["redis"] = self.backend.evicted
        return out

    @property
    def shared(self) -> bool:
        return self.backend is not self.fallback

    async def start(self) -> None:
        """Learn whether Redis answers (for the metric and the log); never fails the start."""
        if self.shared:
            await self._remote("ping", self.backend.ping())

    async def close(self) -> None:
        """Wait for pending settlements (shutdown must not drop a budget's real costs), then disconnect."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=10)
        if self.shared:
            with contextlib.suppress(*self.backend.failures):
                await self.backend.close()

    # -- per request ---------------------------------------------------------------------------------------

    async def admit(self, ctx: Any, attempts: list[Any]) -> Admission:
        """Check every rule of this request at once; raises GatewayError (400 bad n, bad policy or unknown price
        under a USD rule, 429, 503). Use `admission.attempts(attempts)` afterwards."""
        check_choices(ctx.body or {}, self._max_n)
        principal = ctx.principal
        key, org = principal.key, principal.org
        raw = policy_header(ctx.forward_headers)
        if raw is None and not key.limits and not org.limits:
            return NO_LIMITS
        bound = self._bindings.get((raw, key.id, org.id))
        if bound is None or bound.key is not key or bound.org is not org:
            bound = self._bind(raw, principal, ctx.helicone)
        policy = bound.policy
        worst = 0.0
        kept = None
        if bound.usd:
            bounded, worst = bounded_attempts(ctx, attempts, self._allow_unpriced)
            kept = bounded if bounded is not attempts else None
        if bound.rules is not None:  # the same for every request of this key and policy
            rules, charges = bound.rules, bound.charges
        else:
            rules = resolve_rules(principal, ctx.helicone, policy, worst)
            charges = [r.charge for r in rules]
        if not rules:
            return NO_LIMITS
        # names this request's reservations; not the Helicone request id, which a caller may reuse
        rid = new_request_id() if worst > 0 else ""
        backend: Limiter = self.backend
        decision: Decision | None = None
        if not self.shared:  # in process: the backend is the fallback
            decision = self.fallback.acquire_now(rid, charges)
        else:
            decision = await self._remote("acquire", backend.acquire(rid, charges), rid, charges)
            if decision is None:
                if self._on_failure == "closed":
                    self._decide(rules, "unavailable")
                    raise GatewayError(
                        503,
                        "Rate limits and budgets cannot be checked right now (the limit store "
                        "is unreachable); try again shortly.",
                        code="limits_unavailable",
                        headers={"retry-after": "1"},
                    )
                backend = self.fallback
                decision = self.fallback.acquire_now(rid, charges)
        if not decision.admitted:
            blocked = rules[decision.blocked]
            self._decide([blocked], "rejected")
            raise rejection(blocked, decision)
        self._decide(rules, "admitted")
        headers: list[tuple[bytes, bytes]] = []
        if policy is not None:  # the policy's rule comes first
            headers = bound.rate_headers(rules[0]).encoded(decision.used[0], decision.reset_ms[0])
        return Admission(self, backend, rid, rules, headers, kept, bound.settles)

    def finish(self, admission: Admission, ctx: Any) -> None:
        """Settle after the answer without delaying it: inline when in process, else as a tracked task."""
        charges = admission._take(ctx)
        if not charges:  # nothing to log (a request count is final at admission) and nothing reserved
            return
        backend, rid = admission._backend, admission._rid
        if backend.local:
            backend.settle_now(rid, charges)
        else:
            self._spawn(self._remote("settle", backend.settle(rid, charges), always=True))

    # -- helpers ---------------------------------------------------------------------------------------------

    def _policy(self, raw: str) -> RateLimitPolicy:
        return self._policies.get(raw)

    def _bind(self, raw: str | None, principal: Any, helicone: Any) -> Binding:
        """A new binding for this policy header, key and organisation (400 for a bad policy: never kept)."""
        policy = self._policy(raw) if raw is not None else None
        bound = bind(principal, helicone, policy)
        if len(self._bindings) >= _MAX_BINDINGS:
            self._bindings.clear()
        self._bindings[(raw, principal.key.id, principal.org.id)] = bound
        return bound

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)  # a strong reference until done: the loop itself keeps only a weak one
        task.add_done_callback(self._pending.discard)

    async def _remote(
        self,
        op: str,
        call: Any,
        rid: str | None = None,
        charges: list[Charge] | None = None,
        always: bool = False,
    ) -> Any:
        """Run one Redis call under the timeout; None on failure (counted, and admissions skip Redis for a
        second, then one probes). Settlements (`always`) are tried regardless: they run off the request path,
        and a dropped one would hold its reservation until it lapses."""
        if not always and self._down_until and (time.monotonic() < self._down_until or self._probing):
            call.close()  # never awaited: close the coroutine so it does not warn
            return None
        probing = bool(self._down_until) and not always
        self._probing = probing
        try:
            async with asyncio.timeout(self._timeout):
                result = await call
        except self.backend.failures as e:
            self._down(op, e)
            if isinstance(e, self.backend.timeouts) and op == "acquire" and rid and charges:
                # the script may still have run: give its reservations back once Redis answers again
                self._spawn(self._quiet_release(rid, charges))
            return None
        finally:
            if probing:
                self._probing = False
        if self._down_until:
            self._down_until = 0.0
            log.warning("Redis answers again: limits are shared across replicas again")
            self._count("set_redis_up", True)
        elif op == "ping":
            self._count("set_redis_up", True)
        return result

    async def _quiet_release(self, rid: str, charges: list[Charge]) -> None:
        with contextlib.suppress(*self.backend.failures):
            async with asyncio.timeout(max(self._timeout * 4, 1.0)):
                await self.backend.release(rid, charges)

    def _down(self, op: str, e: BaseException) -> None:
        was_up = not self._down_until
        self._down_until = time.monotonic() + _RETRY_REDIS_AFTER
        self._count("redis_error", op)
        if was_up:
            mode = "admitting with per-replica limits" if self._on_failure == "open" else "answering 503"
            log.warning(
                "Redis unreachable for limits (%s: %s): %s until it is back", op, type(e).__name__, mode
            )
            self._count("set_redis_up", False)

    def _decide(self, rules: list[Any], decision: str) -> None:
        """switchyard_limit_decisions_total: one per rule checked (a rejection: the rule that blocked)."""
        if self.metrics is not None:
            for r in rules:
                self.metrics.limit(r.charge.metric, r.scope, decision)

    def _count(self, method: str, arg: Any) -> None:
        fn = getattr(self.metrics, method, None) if self.metrics is not None else None
        if fn is not None:
            fn(arg)
