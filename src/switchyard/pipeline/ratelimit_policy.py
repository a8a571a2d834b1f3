"""The `Helicone-RateLimit-Policy` header → one validated policy. Pure.

Two spellings, both Helicone's:

    <quota>;w=<seconds>[;u=request|cents][;s=user|<property-name>]      (the original, regex-validated)
    q=<quota>;w=<seconds>[;u=request|cents][;s=user|<property-name>]    (the newer key=value builder)

Every string Helicone accepts parses to the same policy here. We are slightly more lenient in form (spaces
around `;` and `=`, parameters after the quota in any order, `u` before or after `s`, upper-case names) and
stricter in substance: Helicone drops a policy it cannot parse and serves the request *unlimited*, which turns a
typo into a silently missing limit. Switchyard answers 400 `invalid_rate_limit_policy` with the reason instead.
A quota or window of 0 is rejected too (Helicone's newer builder does the same; a 0-second window means nothing),
and so is a window longer than the gateway allows (`limits.max_policy_window_seconds`, 31 days by default): a
caller-chosen year-long window per user would keep a counter per user id for a year.

`u=cents` makes the policy a cost budget: the quota is in US cents (quota/100 dollars) per window.
`s` picks the counter: absent → one per gateway key; `user` → per Helicone-User-Id on that key; any other name →
per value of `Helicone-Property-<name>` on that key (names are case-insensitive, like the property headers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import GatewayError

HEADER = "helicone-ratelimit-policy"
# The hyphenated spelling some Helicone docs and the LiteLLM integration use; the canonical one wins when both come.
ALIAS = "helicone-rate-limit-policy"
MAX_QUOTA = 10**12
MAX_WINDOW = 366 * 24 * 3600  # a year: longer windows are almost certainly a typo
_DIGITS = re.compile(r"[0-9]+")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")  # Helicone: [\w-]+ (ASCII in practice: header values are latin-1)
_EXPECTED = (
    "expected '<quota>;w=<seconds>[;u=request|cents][;s=user|<property>]' or 'q=<quota>;w=<seconds>[;...]'"
)


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    quota: int  # requests, or US cents when unit == "cents"
    window: int  # seconds
    unit: str = "request"  # "request" | "cents"
    segment: str | None = None  # None: per key; "user"; or a lower-cased property name

    @property
    def header_value(self) -> str:
        """What `Helicone-RateLimit-Policy` echoes on responses (Helicone leaves the segment out)."""
        return f"{self.quota};w={self.window};u={self.unit}"


class PolicyError(ValueError):
    """The policy header is malformed; the message says what is wrong."""


def policy_header(headers: dict[str, str]) -> str | None:
    """The raw policy of a request: `Helicone-RateLimit-Policy`, else its alias `Helicone-Rate-Limit-Policy`."""
    raw = headers.get(HEADER)
    return raw if raw is not None else headers.get(ALIAS)


def parse_policy(value: str) -> RateLimitPolicy:
    """Parse one policy string; raises PolicyError with a reason a person can act on."""
    text = value.strip()
    if not text:
        raise PolicyError("the value is empty")
    parts = [p.strip() for p in text.split(";")]
    params: dict[str, str] = {}
    quota_text: str | None = None
    for i, part in enumerate(parts):
        if not part:
            raise PolicyError("it has an empty parameter (two ';' in a row, or a ';' at an end)")
        if "=" not in part:
            if i == 0:
                quota_text = part
                continue
            raise PolicyError(f"'{_clip(part)}' is not a name=value parameter")
        name, _, val = part.partition("=")
        name, val = name.strip().lower(), val.strip()
        if name not in ("q", "w", "u", "s"):
            raise PolicyError(f"unknown parameter '{_clip(name)}' (allowed: q, w, u, s)")
        if name in params or (name == "q" and quota_text is not None):
            raise PolicyError(f"parameter '{name}' is given twice")
        params[name] = val
    if quota_text is None:
        quota_text = params.get("q")
        if quota_text is None:
            raise PolicyError("the quota is missing (start with '<quota>;' or give 'q=<quota>')")
    quota = _whole("quota", quota_text, MAX_QUOTA)
    if "w" not in params:
        raise PolicyError("the window 'w=<seconds>' is missing")
    window = _whole("window 'w'", params["w"], MAX_WINDOW)
    unit = params.get("u", "request").lower()
    if unit not in ("request", "cents"):
        raise PolicyError(f"unit 'u={_clip(params['u'])}' must be 'request' or 'cents'")
    segment = params.get("s")
    if segment is not None:
        if not _SEGMENT.fullmatch(segment):
            raise PolicyError(
                f"segment 's={_clip(segment)}' must be 'user' or a property name (letters, digits, '_' or '-')"
            )
        segment = segment.lower()
    return RateLimitPolicy(quota, window, unit, segment)


class PolicyCache:
    """Parsed policies by header value (a caller sends the same few again and again), errors included, with the
    gateway's window cap applied: a window above `max_window` seconds is refused like a malformed value."""

    def __init__(self, max_window: int = 31 * 24 * 3600, size: int = 1024) -> None:
        self._max_window = max_window
        self._size = size
        self._parsed: dict[str, RateLimitPolicy | str] = {}

    def get(self, raw: str) -> RateLimitPolicy:
        """The policy, or GatewayError 400 `invalid_rate_limit_policy`."""
        got = self._parsed.get(raw)
        if got is None:
            try:
                got = parse_policy(raw)
                if got.window > self._max_window:
                    got = (
                        f"window 'w' must be at most {self._max_window} seconds ("
                        f"{self._max_window / 86400:g} days, this gateway's limits.max_policy_window_seconds)"
                    )
            except PolicyError as e:
                got = str(e)
            if len(self._parsed) >= self._size:
                self._parsed.clear()
            self._parsed[raw] = got
        if isinstance(got, str):
            raise policy_error(raw, got)
        return got


def policy_error(value: str, reason: str) -> GatewayError:
    return GatewayError(
        400,
        f"Invalid Helicone-RateLimit-Policy '{_clip(value.strip(), 80)}': {reason}; {_EXPECTED}.",
        code="invalid_rate_limit_policy",
    )


def _whole(what: str, text: str, most: int) -> int:
    if not _DIGITS.fullmatch(text):
        raise PolicyError(f"{what} '{_clip(text)}' must be a whole number")
    n = int(text)
    if n < 1:
        raise PolicyError(f"{what} must be at least 1")
    if n > most:
        raise PolicyError(f"{what} must be at most {most}")
    return n


def _clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
