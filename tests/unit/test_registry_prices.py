"""Prices in the registry that name the pinned dataset (`price_source: genai-prices <version> (<provider>/<model>)`)
are exactly the dataset's, for that version, and the dataset prices the endpoint's upstream id with that model.

A failure here after a genai-prices upgrade means the data is stale: run `python -m switchyard.registry.generate`
(see src/switchyard/registry/README.md) and review the diff.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from switchyard.observe.cost import rates_at
from switchyard.providers.registry import Endpoint, Price, dated_prices
from switchyard.registry import price_dataset

REGISTRY_DIR = Path(__file__).resolve().parents[2] / "src" / "switchyard" / "registry"
PRICE_KEYS = ("input", "output", "cached_input", "cache_write", "cache_write_1h")


def _all_models() -> dict[str, dict[str, Any]]:
    # libyaml's safe loader (what the registry itself reads models.yaml with): every worker collects this module
    text = (REGISTRY_DIR / "models.yaml").read_text(encoding="utf-8")
    models = dict(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["models"])
    generated = REGISTRY_DIR / "models_generated.json"
    if generated.exists():
        models.update(json.loads(generated.read_text(encoding="utf-8"))["models"])
    return models


def _dataset_endpoints() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for mid, m in _all_models().items():
        for pid, ep in m["endpoints"].items():
            if price_dataset.parse_source(ep.get("price_source", "")) is not None:
                out.append((mid, pid, ep))
    return out


ENDPOINTS = _dataset_endpoints()
EMBEDDINGS = {mid for mid, m in _all_models().items() if m.get("kind") == "embedding"}


def _shape(price: dict[str, Any]) -> dict[str, float]:
    return {k: round(float(price[k]), 9) for k in PRICE_KEYS if k in price}


def test_the_registry_uses_the_pinned_dataset() -> None:
    assert len(ENDPOINTS) >= 8
    versions = {price_dataset.parse_source(ep["price_source"])[0] for _, _, ep in ENDPOINTS}  # type: ignore[index]
    assert versions == {price_dataset.version()}, (
        f"price_source names genai-prices {versions}, the installed (uv.lock) version is {price_dataset.version()}"
    )


GENERATED_ON = dt.date.fromisoformat(
    json.loads((REGISTRY_DIR / "models_generated.json").read_text(encoding="utf-8"))["sources"]["on"]
)
MINUTE_MS = 60_000


def _ms(day: dt.date, minute_of_day: int = 0) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1000) + minute_of_day * MINUTE_MS


def _instants(gp: str, gm: str, ep: dict[str, Any]) -> list[int]:
    """Fixed instants (never "now", so the test passes at any hour): on the day the generated file was made and
    on each date the dataset schedules after it, a standard-hour instant and the first and last minute of every
    time-of-day window the dataset or the registry has."""
    prices = price_dataset.model_info(gp, gm).prices
    conditional = prices if isinstance(prices, list) else []
    starts = [c.constraint.start_date for c in conditional if hasattr(c.constraint, "start_date")]
    days = sorted({GENERATED_ON, *(d for d in starts if d > GENERATED_ON)})
    bounds = {  # (from, to) minutes of day, UTC
        (_minute(c.constraint.start_time), _minute(c.constraint.end_time))
        for c in conditional
        if hasattr(c.constraint, "start_time")
    }
    for w in [
        *ep.get("price_windows", ()),
        *(w for c in ep.get("price_changes", ()) for w in c.get("price_windows", ())),
    ]:
        bounds.add(tuple(60 * int(x[:2]) + int(x[3:]) for x in (w["from"], w["to"])))  # type: ignore[arg-type]
    in_windows = {m for start, end in bounds if start != end for m in (start, (end - 1) % 1440)}
    standard = [m for m in (12 * 60, *(end for _, end in bounds)) if not any(_inside(m, b) for b in bounds)]
    minutes = sorted(in_windows | set(standard[:1]))
    return [_ms(day, m) for day in days for m in minutes]


def _minute(t: dt.time) -> int:
    if t.tzinfo is not None:
        t = dt.datetime.combine(dt.date(1970, 1, 1), t).astimezone(dt.UTC).time()
    return t.hour * 60 + t.minute


def _inside(minute: int, bounds: tuple[int, int]) -> bool:
    start, end = bounds
    return (minute >= start or minute < end) if end < start else start <= minute < end


@pytest.mark.parametrize(("mid", "pid", "ep"), ENDPOINTS, ids=[f"{m}/{p}" for m, p, _ in ENDPOINTS])
def test_price_is_the_datasets(mid: str, pid: str, ep: dict[str, Any]) -> None:
    """The price the gateway charges (observe/cost.rates_at over the endpoint as the registry loads it, scheduled
    changes and time-of-day windows included) is the dataset's at each fixed instant of `_instants`."""
    _, gp, gm = price_dataset.parse_source(ep["price_source"])  # type: ignore[misc]
    assert price_dataset.find(pid, ep["id"]) == (gp, gm), f"the dataset prices {pid}/{ep['id']} otherwise"
    price, tiers, windows, changes = dated_prices(ep, 0)  # a gateway started before every scheduled change
    endpoint = Endpoint(mid, pid, ep["id"], price, tiers=tiers, price_windows=windows, price_changes=changes)
    for at_ms in _instants(gp, gm, ep):
        when = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC)
        want = price_dataset.price(gp, gm, when)
        if mid in EMBEDDINGS:
            want.setdefault("output", 0)  # the dataset prices embedding input only
        got, got_tiers = rates_at(endpoint, at_ms)
        assert got is not None, f"{when:%Y-%m-%d %H:%M}"
        assert _price_shape(got) == _shape(want), f"{when:%Y-%m-%d %H:%M}"
        assert [(t.above, _price_shape(t)) for t in got_tiers] == [
            (t["above"], _shape(t)) for t in want.get("tiers", [])
        ], f"{when:%Y-%m-%d %H:%M}"


def _price_shape(p: Price) -> dict[str, float]:
    return _shape({k: getattr(p, k) for k in PRICE_KEYS if getattr(p, k) is not None})


def test_the_instants_cover_every_time_of_day_window() -> None:
    """deepseek-v4-flash: 0.15/0.6 $/Mtok, 0.3/1.2 from 01:00 to 04:00 and from 06:00 to 10:00 UTC."""
    ep = next(ep for mid, pid, ep in ENDPOINTS if (mid, pid) == ("deepseek-v4-flash", "deepseek"))
    minutes = {(at // MINUTE_MS) % 1440 for at in _instants("deepseek", "deepseek-v4-flash", ep)}
    assert minutes == {60, 239, 360, 599, 720}


def test_source_format_round_trips() -> None:
    text = price_dataset.source("anthropic", "claude-3-opus-latest")
    assert price_dataset.parse_source(text) == (price_dataset.version(), "anthropic", "claude-3-opus-latest")
    assert price_dataset.parse_source("LiteLLM 1.106.2 (gpt-4)") is None


def test_dataset_tiers_are_read_as_cliffs() -> None:
    # Gemini 2.5 Pro: every token at the higher rate once the prompt exceeds 200k (the dataset's and our rule)
    p = price_dataset.price("google", "gemini-2.5-pro")
    assert (p["input"], p["output"]) == (1.25, 10)
    assert p["tiers"][0]["above"] == 200_000 and p["tiers"][0]["input"] == 2.5


def _litellm_endpoints() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (mid, pid, ep)
        for mid, m in _all_models().items()
        for pid, ep in m["endpoints"].items()
        if price_dataset.parse_litellm_source(ep.get("price_source", "")) is not None
    ]


def test_litellm_table_prices_are_the_tables() -> None:
    """Providers genai-prices does not cover (DeepInfra, Nebius) are priced from LiteLLM's bundled table, whose
    entries carry the provider's pricing page; each such price is the installed table's, for that version."""
    table = price_dataset.litellm_table()
    checked = 0
    for mid, pid, ep in _litellm_endpoints():
        version, key = price_dataset.parse_litellm_source(ep["price_source"])  # type: ignore[misc]
        assert version == price_dataset.litellm_version(), f"{mid}/{pid}"
        want = price_dataset.litellm_price(table[key])
        assert want is not None and _shape(ep["price"]) == _shape(
            {**want, "output": ep["price"]["output"]}
        ), f"{mid}/{pid}"
        if mid not in EMBEDDINGS:
            assert ep["price"]["output"] == want["output"], f"{mid}/{pid}"
        checked += 1
    assert checked >= 50


def test_generated_file_is_the_generators_output() -> None:
    """models_generated.json is exactly what registry/generate.py makes from the installed datasets on the day it
    was run (no hand edits; a dataset upgrade or a models.yaml change shows up here until it is regenerated)."""
    import datetime as dt

    from switchyard.registry import generate

    committed = json.loads((REGISTRY_DIR / "models_generated.json").read_text(encoding="utf-8"))
    rebuilt = generate.build(today=dt.date.fromisoformat(committed["sources"]["on"]))
    assert json.loads(json.dumps(rebuilt)) == committed, (
        "models_generated.json is stale: run `.venv/bin/python -m switchyard.registry.generate`"
    )
