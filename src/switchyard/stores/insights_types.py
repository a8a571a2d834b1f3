"""The values the insights layer returns (see `stores/insights.py`): frozen dataclasses with `as_dict()`."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

PRESETS = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}


class InsightsError(ValueError):
    """A bad argument from the caller (unknown status class, sort, feedback value, malformed cursor)."""


class _Dict:
    __slots__ = ()

    def as_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def _plain(v: Any) -> Any:
    if isinstance(v, _Dict):
        return v.as_dict()
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


@dataclass(frozen=True, slots=True)
class TimeRange(_Dict):
    start_ms: int
    end_ms: int  # exclusive

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise InsightsError("the end of a time range must come after its start")

    @classmethod
    def last(cls, seconds: int, now_ms: int | None = None) -> TimeRange:
        end = now_ms if now_ms is not None else int(time.time() * 1000)
        return cls(end - seconds * 1000, end + 1)

    @property
    def span_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True, slots=True)
class Totals(_Dict):
    requests: int = 0
    errors: int = 0
    error_rate: float = 0.0
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_hits: int = 0
    cache_hit_rate: float = 0.0
    cost_saved_usd: float = 0.0
    avg_latency_ms: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    ttft_p99_ms: float | None = None


@dataclass(frozen=True, slots=True)
class SeriesPoint(_Dict):
    bucket_ms: int
    requests: int = 0
    errors: int = 0
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    avg_latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class TopItem(_Dict):
    name: str
    value: str | None
    requests: int
    errors: int
    cost_usd: float
    total_tokens: int


@dataclass(frozen=True, slots=True)
class Top(_Dict):
    by_cost: list[TopItem] = field(default_factory=list)
    by_requests: list[TopItem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Overview(_Dict):
    range: TimeRange
    grain: str
    series_grain: str
    totals: Totals
    series: list[SeriesPoint]
    models: Top
    providers: Top
    users: Top
    properties: Top


@dataclass(frozen=True, slots=True)
class Facets(_Dict):
    models: list[str]
    providers: list[str]
    property_keys: list[str]


@dataclass(frozen=True, slots=True)
class RequestFilter(_Dict):
    start_ms: int | None = None
    end_ms: int | None = None
    model: str | None = None
    provider: str | None = None
    status: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    properties: tuple[tuple[str, str], ...] = ()
    cache_hit: bool | None = None
    search: str | None = None
    feedback: str | None = None
    score: str | None = None


@dataclass(frozen=True, slots=True)
class RequestRow(_Dict):
    id: str
    created_at: int
    path: str
    model: str | None
    requested_model: str | None
    provider: str | None
    status: int
    error: str | None
    stream: bool
    cache_hit: bool
    latency_ms: float | None
    ttft_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cached_tokens: int | None
    cost_usd: float | None
    cost_saved_usd: float | None
    user_id: str | None
    session_id: str | None
    session_path: str | None
    session_name: str | None
    properties: dict[str, str]
    feedback: bool | None


@dataclass(frozen=True, slots=True)
class RequestPage(_Dict):
    items: list[RequestRow]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Feedback(_Dict):
    rating: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class RequestDetail(_Dict):
    row: RequestRow
    request_body: str | None
    response_body: str | None
    attempts: list[dict[str, Any]]
    overhead_ms: float | None
    reasoning_tokens: int | None
    cache_write_tokens: int | None
    key_id: str | None
    prompt_id: str | None
    feedback: Feedback | None
    scores: dict[str, float]


@dataclass(frozen=True, slots=True)
class SessionSummary(_Dict):
    session_id: str
    name: str | None
    first_at: int
    last_at: int
    duration_ms: int
    requests: int
    errors: int
    cost_usd: float
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    avg_latency_ms: float | None
    user_id: str | None


@dataclass(frozen=True, slots=True)
class SessionPage(_Dict):
    items: list[SessionSummary]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class TreeNode(_Dict):
    segment: str
    path: str
    requests: list[RequestRow]
    children: list[TreeNode]


@dataclass(frozen=True, slots=True)
class SessionTrace(_Dict):
    summary: SessionSummary
    requests: list[RequestRow]
    tree: list[TreeNode]


@dataclass(frozen=True, slots=True)
class UserSummary(_Dict):
    user_id: str
    requests: int
    errors: int
    cost_usd: float
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    first_seen_ms: int
    last_seen_ms: int
    active_days: int = 1  # UTC days with at least one request in the range


@dataclass(frozen=True, slots=True)
class UserPage(_Dict):
    items: list[UserSummary]
    total: int
    range: TimeRange


@dataclass(frozen=True, slots=True)
class PropertyKeyStat(_Dict):
    key: str
    requests: int
    cost_usd: float
    values: int


@dataclass(frozen=True, slots=True)
class PropertyBreakdown(_Dict):
    range: TimeRange
    keys: list[PropertyKeyStat]
    values: list[TopItem]
