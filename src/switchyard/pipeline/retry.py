"""Retry policy for one attempt: which failures to retry and how long to wait. Pure (the jitter source is injected).

Helicone's headers: `Helicone-Retry-Enabled` (retries only when "true"), `Helicone-Retry-Num`,
`Helicone-Retry-Factor`, `Helicone-Retry-Min-Timeout` and `Helicone-Retry-Max-Timeout` (milliseconds). Without
the headers the configuration's `routing.retries` applies (off by default: with a fallback chain the next
provider is usually a better bet than the same one again).

Waits are exponential with full jitter in the upper half, `min × factor^n` capped at `max`. The provider's own
word wins: `Retry-After` / `retry-after-ms` sets the wait (and when it is longer than the maximum wait, the
attempt is not retried — the plan moves on instead of stalling the caller); `x-should-retry: false` forbids a
retry, `true` allows one even for a status we would not retry.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..config import RetrySettings
from ..errors import GatewayError
from ..providers.base import UpstreamError

# Transient failures: the same request may well succeed a moment later.
RETRYABLE = frozenset({"rate_limited", "overloaded", "server", "timeout", "connection"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    num: int = 0  # retries after the first try
    factor: float = 2.0
    min_ms: int = 1000
    max_ms: int = 10_000

    @classmethod
    def from_settings(cls, s: RetrySettings) -> RetryPolicy:
        return cls(s.num if s.enabled else 0, s.factor, s.min_timeout_ms, s.max_timeout_ms)

    def delay(
        self, retry_no: int, e: UpstreamError, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait before retry number `retry_no` (0-based) after `e`, or None: do not retry."""
        if retry_no >= self.num:
            return None
        should = e.should_retry
        if should is False:
            return None
        if should is not True and e.kind not in RETRYABLE:
            return None
        if e.retry_after is not None:
            if e.retry_after * 1000 > self.max_ms:
                return None
            return e.retry_after
        base = min(self.max_ms, self.min_ms * self.factor**retry_no)
        return (base / 2 + rand() * base / 2) / 1000


def _int_header(headers: Mapping[str, str], name: str, lo: int, hi: int) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        v = int(raw.strip())
    except ValueError:
        raise GatewayError(
            400,
            f"{_title(name)} must be an integer between {lo} and {hi}; got {raw!r}.",
            code="invalid_header",
        ) from None
    if not lo <= v <= hi:
        raise GatewayError(
            400, f"{_title(name)} must be between {lo} and {hi}; got {v}.", code="invalid_header"
        )
    return v


def _title(name: str) -> str:
    return "-".join(p.capitalize() for p in name.split("-"))


def retry_policy(headers: Mapping[str, str], default: RetryPolicy) -> RetryPolicy:
    """The policy for one request: Helicone's headers over the configured default."""
    enabled = headers.get("helicone-retry-enabled")
    if enabled is None:
        return default
    if enabled.strip().lower() != "true":
        return RetryPolicy(0)
    num = _int_header(headers, "helicone-retry-num", 0, 10)
    min_ms = _int_header(headers, "helicone-retry-min-timeout", 0, 600_000)
    max_ms = _int_header(headers, "helicone-retry-max-timeout", 0, 600_000)
    raw_factor = headers.get("helicone-retry-factor")
    factor = default.factor
    if raw_factor is not None:
        try:
            factor = float(raw_factor)
        except ValueError:
            factor = -1.0
        if not 1.0 <= factor <= 10.0:
            raise GatewayError(
                400,
                f"Helicone-Retry-Factor must be a number between 1 and 10; got {raw_factor!r}.",
                code="invalid_header",
            )
    # Helicone's defaults when retries are switched on by header: 5 retries, factor 2, 1 s .. 10 s.
    return RetryPolicy(
        num=5 if num is None else num,
        factor=factor,
        min_ms=1000 if min_ms is None else min_ms,
        max_ms=10_000 if max_ms is None else max(max_ms, min_ms or 0),
    )


def int_ms_header(headers: Mapping[str, str], name: str, hi: int = 86_400_000) -> int | None:
    """A positive millisecond value from a header (timeouts, hedging), or None when absent; 400 when malformed."""
    return _int_header(headers, name, 1, hi)
