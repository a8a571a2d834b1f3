"""Query-string parameters of the pages → the data layer's arguments, and back into the forms that made them.

Time: `range` is one of the presets (1h, 24h, 7d, 30d) or `custom` with `from`/`to` as `YYYY-MM-DDTHH:MM`
(UTC, what an <input type="datetime-local"> sends). Anything unreadable falls back to the default with a message
for the page, never an error.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from ..stores import insights as ins

PRESET_LABELS = (
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("custom", "Custom"),
)
STATUS_CHOICES = (
    ("", "Any"),
    ("success", "Success (< 400)"),
    ("error", "Error (≥ 400)"),
    ("2xx", "2xx"),
    ("4xx", "4xx"),
    ("5xx", "5xx"),
)
CACHE_CHOICES = (("", "Any"), ("hit", "Hit"), ("miss", "Miss"))
FEEDBACK_CHOICES = (
    ("", "Any"),
    ("good", "Good"),
    ("bad", "Bad"),
    ("any", "Has feedback"),
    ("none", "No feedback"),
)


@dataclass
class RangeChoice:
    key: str  # a preset or "custom"
    rng: ins.TimeRange
    start_text: str  # for the From/To inputs
    end_text: str
    problem: str | None = None

    @property
    def query(self) -> dict[str, str]:
        if self.key == "custom":
            return {"range": "custom", "from": self.start_text, "to": self.end_text}
        return {"range": self.key}

    def qs(self, **extra: str) -> str:
        """This range's query string with more parameters (for links that keep the range)."""
        return urlencode({**self.query, **{k: v for k, v in extra.items() if v is not None}})


def _local(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M")


def _parse_local(text: str) -> int | None:
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp() * 1000)


def time_range(q: QueryParams, default: str = "24h", now_ms: int | None = None) -> RangeChoice:
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    key = q.get("range") or default
    if key == "custom":
        start, end = _parse_local(q.get("from", "")), _parse_local(q.get("to", ""))
        if start is not None and end is not None and start < end:
            rng = ins.TimeRange(start, end)
            return RangeChoice("custom", rng, _local(start), _local(end))
        rng = ins.TimeRange.last(ins.PRESETS[default], now)
        return RangeChoice(
            default,
            rng,
            _local(rng.start_ms),
            _local(rng.end_ms),
            problem="The custom range needs a From before its To (UTC); showing the default.",
        )
    if key not in ins.PRESETS:
        key = default
    rng = ins.TimeRange.last(ins.PRESETS[key], now)
    return RangeChoice(key, rng, _local(rng.start_ms), _local(rng.end_ms))


@dataclass
class RequestFilters:
    choice: RangeChoice
    values: dict[str, str] = field(default_factory=dict)  # the form's fields as given
    properties: list[tuple[str, str]] = field(default_factory=list)
    problem: str | None = None

    def to_filter(self) -> ins.RequestFilter:
        v = self.values
        cache = {"hit": True, "miss": False}.get(v.get("cache", ""))
        return ins.RequestFilter(
            start_ms=self.choice.rng.start_ms,
            end_ms=self.choice.rng.end_ms,
            model=v.get("model") or None,
            provider=v.get("provider") or None,
            status=v.get("status") or None,
            user_id=v.get("user") or None,
            session_id=v.get("session") or None,
            properties=tuple(self.properties),
            cache_hit=cache,
            search=v.get("search") or None,
            feedback=v.get("feedback") or None,
            score=v.get("score") or None,
        )

    def query(self, **extra: Any) -> str:
        """The query string that reproduces this filter (for export links and the next page)."""
        pairs: list[tuple[str, str]] = list(self.choice.query.items())
        pairs += [(k, v) for k, v in self.values.items() if v]
        pairs += [("property", f"{k}={val}") for k, val in self.properties]
        pairs += [(k, str(v)) for k, v in extra.items() if v is not None]
        return urlencode(pairs)


FILTER_FIELDS = ("model", "provider", "status", "user", "session", "cache", "search", "feedback", "score")


def request_filters(q: QueryParams) -> RequestFilters:
    f = RequestFilters(time_range(q, default="24h"))
    f.problem = f.choice.problem
    for name in FILTER_FIELDS:
        value = q.get(name, "").strip()
        if value:
            f.values[name] = value[:500]
    for raw in q.getlist("property"):
        raw = raw.strip()
        if not raw:
            continue
        k, sep, val = raw.partition("=")
        if not sep or not k.strip():
            f.problem = "A property filter is written key=value, e.g. environment=production."
            continue
        f.properties.append((k.strip()[:200], val.strip()[:500]))
    return f
