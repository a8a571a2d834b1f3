"""Time-of-day prices (registry `price_windows`) are charged at the time of the call, and held at their highest.

genai-prices prices DeepSeek V4 by the hour (`TimeOfDateConstraint`): deepseek-v4-flash costs 0.15/0.6 $/Mtok but
0.3/1.2 from 01:00 to 04:00 and from 06:00 to 10:00 UTC. The generator priced the dataset at midnight and dropped
the windows, so calls in those hours were logged, charged in credits and counted against USD budgets at half their
price, and a credit hold or budget reservation could be exceeded twofold by the real cost. The windows are now data
in the generated registry (`[{from: "HH:MM", to: "HH:MM", price}]`, UTC), `observe/cost.py` charges the one the call
falls in, and the worst-case bound behind holds and reservations takes the highest price of the day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from genai_prices.types import (
    ClauseEquals,
    ConditionalPrice,
    ModelInfo,
    ModelPrice,
    StartDateConstraint,
    TimeOfDateConstraint,
)

from switchyard.config import Settings
from switchyard.observe.cost import Usage, cost_usd, price_bound, price_for, worst_case_usd
from switchyard.providers.price_schedule import PriceError, PriceWindow, dated_prices
from switchyard.providers.registry import Endpoint, load_registry
from switchyard.registry import price_dataset

REG = load_registry(Settings.model_validate({"home": "/tmp/switchyard-test-price-windows"}), env={})
FLASH = REG.models["deepseek-v4-flash"].endpoints["deepseek"]
MTOK = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000, total_tokens=2_000_000)
DAY = dt.date(2026, 12, 5)


def _at(hhmm: str, day: dt.date = DAY) -> int:
    t = dt.time.fromisoformat(hhmm)
    return int(dt.datetime.combine(day, t, dt.UTC).timestamp() * 1000)


def _endpoint(raw: dict[str, Any], loaded_at_ms: int = 0) -> Endpoint:
    price, tiers, windows, changes = dated_prices(raw, loaded_at_ms)
    return Endpoint("m", "deepseek", "m", price, tiers=tiers, price_windows=windows, price_changes=changes)


@pytest.mark.parametrize(
    ("hhmm", "usd"),
    [
        ("02:00", 0.3 + 1.2),
        ("01:00", 0.3 + 1.2),
        ("03:59:59.999", 0.3 + 1.2),
        ("04:00", 0.15 + 0.6),
        ("08:00", 0.3 + 1.2),
        ("12:00", 0.15 + 0.6),
        ("00:30", 0.15 + 0.6),
    ],
)
def test_deepseek_v4_flash_is_charged_the_rate_of_the_hour(hhmm: str, usd: float) -> None:
    assert cost_usd(MTOK, FLASH, at_ms=_at(hhmm)) == pytest.approx(usd)


def test_cached_input_follows_the_window_too() -> None:
    usage = Usage(prompt_tokens=1_000_000, cached_tokens=1_000_000)
    assert cost_usd(usage, FLASH, at_ms=_at("02:00")) == pytest.approx(0.006)
    assert cost_usd(usage, FLASH, at_ms=_at("12:00")) == pytest.approx(0.003)


CROSSING = {
    "id": "m",
    "price": {"input": 1, "output": 2},
    "price_windows": [{"from": "22:00", "to": "02:00", "price": {"input": 3, "output": 6}}],
}


@pytest.mark.parametrize(
    ("hhmm", "rate"),
    [("21:59", 1), ("22:00", 3), ("23:59", 3), ("00:00", 3), ("01:59", 3), ("02:00", 1), ("12:00", 1)],
)
def test_a_window_may_cross_midnight(hhmm: str, rate: float) -> None:
    price = price_for(_endpoint(CROSSING), 10, _at(hhmm))
    assert price is not None and price.input == rate


def test_windows_follow_genai_prices_minute_by_minute() -> None:
    """Our `PriceWindow.active` is the dataset's `TimeOfDateConstraint.active`, midnight crossing and equal bounds
    (never) included."""
    for start, end in [(60, 240), (1320, 120), (0, 1439), (600, 600), (0, 0)]:
        ours = PriceWindow(start * 60_000, end * 60_000, None)
        theirs = TimeOfDateConstraint(
            start_time=dt.time(start // 60, start % 60, tzinfo=dt.UTC),
            end_time=dt.time(end // 60, end % 60, tzinfo=dt.UTC),
        )
        for minute in range(0, 1440, 7):
            when = dt.datetime.combine(DAY, dt.time(minute // 60, minute % 60), dt.UTC)
            assert ours.active(minute * 60_000) == theirs.active(when), (start, end, minute)


def test_the_later_of_two_overlapping_windows_wins() -> None:
    ep = _endpoint(
        {
            **CROSSING,
            "price_windows": [
                {"from": "01:00", "to": "05:00", "price": {"input": 3, "output": 6}},
                {"from": "03:00", "to": "04:00", "price": {"input": 5, "output": 10}},
            ],
        }
    )
    assert [price_for(ep, 10, _at(h)).input for h in ("02:00", "03:30", "04:30", "06:00")] == [3, 5, 3, 1]  # type: ignore[union-attr]


DATED = {
    "id": "m",
    "price": {"input": 1, "output": 2},
    "price_windows": [{"from": "01:00", "to": "04:00", "price": {"input": 3, "output": 6}}],
    "price_changes": [
        {"from": "2027-01-01", "price": {"input": 2, "output": 4}},
        {
            "from": "2027-02-01",
            "price": {"input": 2, "output": 4},
            "price_windows": [{"from": "06:00", "to": "10:00", "price": {"input": 4, "output": 8}}],
        },
    ],
}


@pytest.mark.parametrize(
    ("day", "hhmm", "rate"),
    [
        ("2026-12-31", "02:00", 3),  # the windows of the price in force
        ("2026-12-31", "07:00", 1),
        ("2027-01-01", "02:00", 2),  # a dated change without windows ends them
        ("2027-02-01", "02:00", 2),
        ("2027-02-01", "07:00", 4),  # a dated change brings its own
    ],
)
def test_a_dated_change_carries_its_own_windows(day: str, hhmm: str, rate: float) -> None:
    at = _at(hhmm, dt.date.fromisoformat(day))
    for loaded in (0, at):  # in a process started before the change, and in one started after it
        price = price_for(_endpoint(DATED, loaded), 10, at)
        assert price is not None and price.input == rate, (day, hhmm, loaded)


def test_the_worst_case_bound_uses_the_peak_price_at_any_hour() -> None:
    body = {"model": "deepseek-v4-flash", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}
    peak = (200 * 0.3 + 1000 * 1.2) / 1e6
    assert worst_case_usd(FLASH, body, 200) == pytest.approx(peak)
    for hhmm in ("02:00", "12:00", "23:59"):
        bound = price_bound(FLASH, 200, _at(hhmm))
        assert bound is not None and (bound.input, bound.output, bound.cached_input) == (0.3, 1.2, 0.006)
    # a call started in standard hours and priced in a window (it ends there) stays under its hold
    assert cost_usd(Usage(prompt_tokens=200, completion_tokens=1000), FLASH, at_ms=_at("01:00")) <= peak  # type: ignore[operator]


def test_the_bound_covers_a_change_that_comes_into_force_within_a_day() -> None:
    ep = _endpoint(DATED)
    late = price_bound(ep, 10, _at("23:00", dt.date(2026, 12, 31)))
    assert late is not None and (late.input, late.output) == (3, 6)  # today's window, tomorrow's 2/4
    ep = _endpoint({**DATED, "price_windows": []})
    assert price_bound(ep, 10, _at("23:00", dt.date(2026, 12, 31))).input == 2  # type: ignore[union-attr]
    assert price_bound(ep, 10, _at("23:00", dt.date(2026, 12, 29))).input == 1  # type: ignore[union-attr]
    assert price_bound(ep, 10, _at("23:00", dt.date(2027, 1, 31))).input == 4  # type: ignore[union-attr]


@pytest.mark.parametrize("bound", [600, "25:00", "10:00+02:00", None])
def test_a_window_bound_must_be_a_quoted_utc_time(bound: object) -> None:
    raw = {**CROSSING, "price_windows": [{"from": bound, "to": "02:00", "price": {"input": 3, "output": 6}}]}
    with pytest.raises(PriceError, match="HH:MM"):
        dated_prices(raw, 0)


# -- the dataset reader ---------------------------------------------------------------------------------------


def test_the_dataset_reader_lists_the_windows_of_the_day() -> None:
    assert price_dataset.standard_price("deepseek", "deepseek-v4-flash", DAY) == {
        "input": 0.15,
        "output": 0.6,
        "cached_input": 0.003,
    }
    peak = {"input": 0.3, "output": 1.2, "cached_input": 0.006}
    assert price_dataset.windows("deepseek", "deepseek-v4-flash", DAY) == [
        {"from": "01:00", "to": "04:00", "price": peak},
        {"from": "06:00", "to": "10:00", "price": peak},
    ]


def _model(prices: list[ConditionalPrice]) -> ModelInfo:
    return ModelInfo(id="y", match=ClauseEquals(equals="y"), prices=prices)


def test_a_window_listed_before_a_dated_price_is_shadowed_by_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """genai-prices takes the last active entry: a start date listed after a window replaces it from that date,
    a window listed after the start date applies over it."""
    prices = [
        ConditionalPrice(prices=ModelPrice(input_mtok=1, output_mtok=2)),  # type: ignore[arg-type]
        ConditionalPrice(
            TimeOfDateConstraint(start_time=dt.time(22, tzinfo=dt.UTC), end_time=dt.time(2, tzinfo=dt.UTC)),
            prices=ModelPrice(input_mtok=3, output_mtok=6),  # type: ignore[arg-type]
        ),
        ConditionalPrice(
            StartDateConstraint(dt.date(2027, 1, 1)), prices=ModelPrice(input_mtok=2, output_mtok=4)
        ),  # type: ignore[arg-type]
    ]
    monkeypatch.setattr(price_dataset, "model_info", lambda *_: _model(prices))
    before, after = dt.date(2026, 12, 31), dt.date(2027, 1, 1)
    assert price_dataset.windows("x", "y", before) == [
        {"from": "22:00", "to": "02:00", "price": {"input": 3, "output": 6}}
    ]
    assert price_dataset.windows("x", "y", after) == []
    assert price_dataset.price_changes("x", "y", before) == [
        {"from": "2027-01-01", "price": {"input": 2, "output": 4}}
    ]
    # the registry reads what the dataset charges, on both sides of the date and of midnight
    raw = {
        "id": "y",
        "price": price_dataset.standard_price("x", "y", before),
        "price_windows": price_dataset.windows("x", "y", before),
        "price_changes": price_dataset.price_changes("x", "y", before),
    }
    ep = _endpoint(raw)
    for day in (before, after):
        for hhmm in ("21:00", "23:00", "01:00", "03:00"):
            at = _at(hhmm, day)
            want = price_dataset.price("x", "y", dt.datetime.fromtimestamp(at / 1000, dt.UTC))
            got = price_for(ep, 10, at)
            assert got is not None and (got.input, got.output) == (want["input"], want["output"]), (day, hhmm)


def test_the_dashboard_prices_a_call_at_the_time_it_ended() -> None:
    from types import SimpleNamespace

    from switchyard.dashboard.pages_detail import cost_lines

    row = SimpleNamespace(
        model="deepseek-v4-flash",
        requested_model="deepseek-v4-flash",
        provider="deepseek",
        status=200,
        prompt_tokens=1000,
        cached_tokens=0,
        completion_tokens=1000,
        cost_usd=(1000 * 0.3 + 1000 * 1.2) / 1e6,
        created_at=_at("00:59:59"),  # started in standard hours, ended (and was charged) in the window
        latency_ms=2000.0,
    )
    d = SimpleNamespace(
        row=row, cache_write_tokens=0, attempts=[{"status": 200, "source": "deepseek-v4-flash/deepseek/ptb"}]
    )
    lines = cost_lines(REG, d)
    assert [x[1] for x in lines] == ["1,000 × $0.3/1M", "1,000 × $1.2/1M"]
