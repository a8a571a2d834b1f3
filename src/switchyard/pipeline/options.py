"""Per-request routing options from headers: retries, timeouts, hedging, stream continuation.

Helicone's retry headers (see `retry.py`) plus Switchyard's own, all opt-in:
- `Switchyard-Timeout-Ms`, `Switchyard-Connect-Timeout-Ms`, `Switchyard-First-Byte-Timeout-Ms`: this request's
  upstream timeouts (total, connect, first byte and between reads), over the provider's and the default ones;
- `Switchyard-Hedge-After-Ms: N`: when an attempt has produced no first byte after N ms, start the next attempt
  in parallel and keep whichever answers first;
- `Switchyard-Stream-Continuation: true`: when a stream breaks after content was sent, continue it on the next
  attempt, with the text so far as an assistant prefix, as one uninterrupted stream.
A malformed value is a 400 naming the header, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import GatewayError
from ..providers.transport import Timeouts
from .retry import RetryPolicy, int_ms_header, retry_policy


@dataclass(frozen=True, slots=True)
class RouteOptions:
    retry: RetryPolicy
    connect_timeout: float | None = None  # seconds; None: provider / default
    first_byte_timeout: float | None = None
    total_timeout: float | None = None
    hedge_after: float | None = None  # seconds
    continuation: bool = False

    def timeouts(self, base: Timeouts) -> Timeouts:
        if self.connect_timeout is None and self.first_byte_timeout is None and self.total_timeout is None:
            return base
        return Timeouts(
            self.connect_timeout or base.connect,
            self.first_byte_timeout or base.first_byte,
            self.total_timeout or base.total,
        )


# The options of a request without routing headers, per configured retry policy (by identity: a policy made from a
# caller's Helicone-Retry-* headers is a new object every time, and the caller picks its values, so keying by value
# let callers grow this table without bound). A gateway has one configured policy; the few a test suite makes
# stay alive here, so their ids are never reused.
_DEFAULTS: dict[int, tuple[RetryPolicy, RouteOptions]] = {}


def route_options(headers: Mapping[str, str], default_retry: RetryPolicy) -> RouteOptions:
    retry = retry_policy(headers, default_retry)
    if not _any_switchyard(headers):
        if retry is not default_retry:  # set by the caller's retry headers
            return RouteOptions(retry)
        known = _DEFAULTS.get(id(retry))
        if known is None:
            known = _DEFAULTS[id(retry)] = (retry, RouteOptions(retry))
        return known[1]
    total = int_ms_header(headers, "switchyard-timeout-ms")
    connect = int_ms_header(headers, "switchyard-connect-timeout-ms")
    first = int_ms_header(headers, "switchyard-first-byte-timeout-ms")
    hedge = int_ms_header(headers, "switchyard-hedge-after-ms", hi=600_000)
    cont = headers.get("switchyard-stream-continuation")
    if cont is not None and cont.strip().lower() not in ("true", "false"):
        raise GatewayError(
            400, f"Switchyard-Stream-Continuation must be true or false; got {cont!r}.", code="invalid_header"
        )
    return RouteOptions(
        retry,
        connect_timeout=connect / 1000 if connect else None,
        first_byte_timeout=first / 1000 if first else None,
        total_timeout=total / 1000 if total else None,
        hedge_after=hedge / 1000 if hedge else None,
        continuation=cont is not None and cont.strip().lower() == "true",
    )


_HEADERS = frozenset(
    {
        "switchyard-timeout-ms",
        "switchyard-connect-timeout-ms",
        "switchyard-first-byte-timeout-ms",
        "switchyard-hedge-after-ms",
        "switchyard-stream-continuation",
    }
)


def _any_switchyard(headers: Mapping[str, str]) -> bool:
    return not _HEADERS.isdisjoint(headers)  # one C-level pass over the header names
