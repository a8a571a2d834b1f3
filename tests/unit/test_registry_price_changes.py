"""Price changes the dataset schedules are in the registry and followed by the cost (review finding R1,
docs/security.md §9).

genai-prices dates some prices (`StartDateConstraint`: Gemini 3.x Flash doubles on 2027-01-01). The generator wrote
only the price of the day it ran, so from that date every request to those endpoints was logged, billed in credits
and sent to Stripe at half its price, silently (and the data test, comparing with the dataset "now", would only then
start failing). The generated endpoints now carry `price_changes` (`from` a UTC date), the registry folds the ones
already in force into `price` when it loads, and the cost of a call uses the price in force when it is priced."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from switchyard.config import Settings
from switchyard.observe.cost import Usage, cost_usd
from switchyard.providers.registry import dated_prices, load_registry
from switchyard.registry import price_dataset

GENERATED = Path(__file__).resolve().parents[2] / "src" / "switchyard" / "registry" / "models_generated.json"
DAY_MS = 86_400_000


def _ms(day: str) -> int:
    return int(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), dt.UTC).timestamp() * 1000)


def _scheduled() -> list[tuple[str, str, dict[str, Any], dt.date]]:
    doc = json.loads(GENERATED.read_text(encoding="utf-8"))
    on = dt.date.fromisoformat(doc["sources"]["on"])
    out = []
    for mid, m in doc["models"].items():
        for pid, ep in m["endpoints"].items():
            src = price_dataset.parse_source(ep.get("price_source") or "")
            if src is None:
                continue
            prices = price_dataset.model_info(src[1], src[2]).prices
            for c in prices if isinstance(prices, list) else ():
                start = getattr(c.constraint, "start_date", None)
                if start is not None and start > on:
                    out.append((mid, pid, ep, start))
    return out


def test_every_price_change_the_dataset_schedules_is_in_the_registry() -> None:
    scheduled = _scheduled()
    assert scheduled, "the pinned dataset schedules price changes (Gemini 3.x Flash on 2027-01-01)"
    for mid, pid, ep, start in scheduled:
        src = price_dataset.parse_source(ep["price_source"])
        assert src is not None
        want = price_dataset.price(src[1], src[2], dt.datetime.combine(start, dt.time(), dt.UTC))
        want.pop("extra", None)
        changes = {c["from"]: c for c in ep.get("price_changes", ())}
        assert start.isoformat() in changes, f"{mid}/{pid}: the dataset's price from {start} is missing"
        got = changes[start.isoformat()]
        assert (got["price"]["input"], got["price"]["output"]) == (want["input"], want["output"]), (
            f"{mid}/{pid}"
        )


ENDPOINT = {
    "id": "m",
    "price": {"input": 0.75, "output": 3.75},
    "price_changes": [
        {"from": "2027-01-01", "price": {"input": 1.5, "output": 7.5}},
        {"from": "2027-06-01", "price": {"input": 2, "output": 8}, "tiers": [{"above": 200000, "input": 4, "output": 16}]},
    ],
}  # fmt: skip


def test_changes_in_force_are_folded_in_when_the_registry_loads_and_the_rest_kept() -> None:
    price, tiers, _, changes = dated_prices(ENDPOINT, _ms("2026-12-31") + DAY_MS - 1)
    assert price is not None and (price.input, price.output) == (0.75, 3.75) and len(changes) == 2
    price, tiers, _, changes = dated_prices(ENDPOINT, _ms("2027-01-01"))
    assert (
        price is not None and (price.input, price.output) == (1.5, 7.5) and tiers == () and len(changes) == 1
    )
    price, tiers, _, changes = dated_prices(ENDPOINT, _ms("2027-07-01"))
    assert price is not None and price.input == 2 and tiers[0].above == 200000 and changes == ()


@pytest.mark.parametrize(
    ("day", "want"), [("2026-12-31", 0.0045), ("2027-01-01", 0.009), ("2027-06-02", 0.01)]
)
def test_a_call_is_priced_at_the_price_in_force_when_it_is_priced(day: str, want: float) -> None:
    from switchyard.providers.registry import Endpoint

    price, tiers, _, changes = dated_prices(
        ENDPOINT, _ms("2026-12-01")
    )  # a gateway started before the change
    ep = Endpoint("m", "vertex", "m", price, tiers=tiers, price_changes=changes)
    usage = Usage(prompt_tokens=1000, completion_tokens=1000, total_tokens=2000)
    assert cost_usd(usage, ep, at_ms=_ms(day) + 1) == pytest.approx(want)


def test_the_shipped_registry_loads_its_price_changes() -> None:
    reg = load_registry(Settings())
    scheduled = _scheduled()
    mid, pid, _, start = scheduled[0]
    ep = reg.models[mid].endpoints[pid]
    assert [dt.datetime.fromtimestamp(c.from_ms / 1000, dt.UTC).date() for c in ep.price_changes] == [start]
