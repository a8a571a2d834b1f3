"""Endpoint prices as the registry files give them: a base price with prompt-size tiers, time-of-day windows
(`price_windows`) and dated changes (`price_changes`), read into frozen values. `observe/cost.py` picks the price in
force for a call; `dated_prices` folds the changes already in force when the registry loads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class PriceError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    above: int | None = None  # for a tier: applies when prompt tokens exceed this


@dataclass(frozen=True, slots=True)
class PriceWindow:
    """A time-of-day price (DeepSeek's peak hours): in force daily from `start_ms` to `end_ms` (milliseconds after
    UTC midnight, end excluded; `end_ms < start_ms` crosses midnight, equal bounds never apply), tiers included."""

    start_ms: int
    end_ms: int
    price: Price | None
    tiers: tuple[Price, ...] = ()

    def active(self, ms_of_day: int) -> bool:
        if self.end_ms < self.start_ms:
            return ms_of_day >= self.start_ms or ms_of_day < self.end_ms
        return self.start_ms <= ms_of_day < self.end_ms


@dataclass(frozen=True, slots=True)
class PriceChange:
    """A price the dataset schedules: in force from `from_ms` (a UTC midnight) on, tiers and time-of-day windows
    included (they replace the ones before it)."""

    from_ms: int
    price: Price | None
    tiers: tuple[Price, ...] = ()
    windows: tuple[PriceWindow, ...] = ()


def read_price(raw: Mapping[str, Any] | None) -> Price | None:
    if raw is None:
        return None
    return Price(
        input=float(raw["input"]),
        output=float(raw["output"]),
        cached_input=_opt(raw.get("cached_input")),
        cache_write=_opt(raw.get("cache_write")),
        cache_write_1h=_opt(raw.get("cache_write_1h")),
        above=int(raw["above"]) if raw.get("above") is not None else None,
    )


def _opt(v: Any) -> float | None:
    return None if v is None else float(v)


def _tiers(raw: Any) -> tuple[Price, ...]:
    return tuple(p for p in (read_price(t) for t in raw or ()) if p is not None)


def _time_of_day_ms(v: Any, where: str) -> int:
    if not isinstance(v, str):  # YAML reads an unquoted 10:30 as the sexagesimal integer 630
        raise PriceError(f'{where}: a price window bound must be a quoted "HH:MM" (UTC), got {v!r}')
    try:
        t = dt.time.fromisoformat(v)
    except ValueError:
        t = None
    if t is None or t.tzinfo is not None:
        raise PriceError(f'{where}: a price window bound must be "HH:MM" (UTC), got {v!r}')
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1000


def _windows(raw: Any, where: str) -> tuple[PriceWindow, ...]:
    """`price_windows: [{from: "HH:MM", to: "HH:MM", price, tiers?}]` (UTC; a later window wins an overlap)."""
    return tuple(
        PriceWindow(
            _time_of_day_ms(w.get("from"), where),
            _time_of_day_ms(w.get("to"), where),
            read_price(w["price"]),
            _tiers(w.get("tiers")),
        )
        for w in raw or ()
    )


def dated_prices(
    ep: Mapping[str, Any], now_ms: int, where: str = "endpoint"
) -> tuple[Price | None, tuple[Price, ...], tuple[PriceWindow, ...], tuple[PriceChange, ...]]:
    """An endpoint's (price, tiers, time-of-day windows) in force at `now_ms` and the changes still to come
    (`price_changes`: a list of `{from: YYYY-MM-DD (UTC), price, tiers, price_windows}` in date order; a change
    replaces all three)."""
    price, tiers = read_price(ep.get("price")), _tiers(ep.get("tiers"))
    windows = _windows(ep.get("price_windows"), where)
    later = []
    for c in ep.get("price_changes") or ():
        day = dt.date.fromisoformat(str(c["from"]))
        change = PriceChange(
            int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1000),
            read_price(c["price"]),
            _tiers(c.get("tiers")),
            _windows(c.get("price_windows"), f"{where} (price change from {day})"),
        )
        if change.from_ms <= now_ms:
            price, tiers, windows = change.price, change.tiers, change.windows
        else:
            later.append(change)
    return price, tiers, windows, tuple(later)
