"""Rate-limit and budget rules as the admin API (JSON) and the CLI (`metric:limit:window[:per]`) accept them."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from ..errors import bad_request
from ..stores.base import LimitRule
from .base import Body, loc_name

MAX_WINDOW_SECONDS = 31_536_000  # one year
MAX_LIMITS = 64  # rules per key or organisation: each one is checked on every request

_PER = re.compile(r"^(key|org|user|property:[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class LimitIn(Body):
    metric: Literal["requests", "tokens", "usd"]
    limit: float = Field(gt=0, allow_inf_nan=False)
    window_seconds: int = Field(ge=1, le=MAX_WINDOW_SECONDS)
    per: str = "key"

    @field_validator("per")
    @classmethod
    def _per(cls, v: str) -> str:
        if not _PER.match(v):
            raise ValueError('must be "key", "org", "user" or "property:<name>"')
        return v.lower() if v.startswith("property:") else v

    def rule(self) -> LimitRule:
        return LimitRule(
            metric=self.metric, limit=self.limit, window_seconds=self.window_seconds, per=self.per
        )


def rules(limits: list[LimitIn] | None) -> list[LimitRule] | None:
    """The stored rules for a patch's `limits` (None: leave them as they are)."""
    return None if limits is None else [r.rule() for r in limits]


def parse_limit_spec(spec: str) -> LimitRule:
    """The CLI's compact form `metric:limit:window[:per]`, e.g. `requests:100:60`, `usd:5:1d:user`,
    `tokens:100000:1h:property:team`. The window takes an optional s/m/h/d suffix. Validated exactly like the
    API's JSON form."""
    parts = spec.split(":", 3)
    if len(parts) < 3:
        raise bad_request(
            f"limit {spec!r}: expected metric:limit:window[:per], e.g. requests:100:60", param="limits"
        )
    metric, limit, window = parts[0], parts[1], parts[2]
    m = _DURATION.match(window.strip())
    if m is None:
        raise bad_request(
            f"limit {spec!r}: window must be whole seconds, optionally with s/m/h/d", param="limits"
        )
    try:
        amount = float(limit)
    except ValueError:
        raise bad_request(f"limit {spec!r}: limit must be a number", param="limits") from None
    data: dict[str, Any] = {
        "metric": metric,
        "limit": amount,
        "window_seconds": int(m.group(1)) * _UNITS[m.group(2)],
    }
    if len(parts) == 4:
        data["per"] = parts[3]
    try:
        return LimitIn.model_validate(data).rule()
    except ValidationError as e:
        err = e.errors()[0]
        raise bad_request(
            f"limit {spec!r}: {loc_name(err['loc'])}: {err['msg'].removeprefix('Value error, ')}",
            param="limits",
        ) from None


def limits_json(limits: tuple[LimitRule, ...]) -> list[dict[str, Any]]:
    return [r.as_dict() for r in limits]
