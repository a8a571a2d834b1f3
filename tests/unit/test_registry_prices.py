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

from switchyard.registry import price_dataset

REGISTRY_DIR = Path(__file__).resolve().parents[2] / "src" / "switchyard" / "registry"
PRICE_KEYS = ("input", "output", "cached_input", "cache_write", "cache_write_1h")


def _all_models() -> dict[str, dict[str, Any]]:
    models = dict(yaml.safe_load((REGISTRY_DIR / "models.yaml").read_text(encoding="utf-8"))["models"])
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


@pytest.mark.parametrize(("mid", "pid", "ep"), ENDPOINTS, ids=[f"{m}/{p}" for m, p, _ in ENDPOINTS])
def test_price_is_the_datasets(mid: str, pid: str, ep: dict[str, Any]) -> None:
    _, gp, gm = price_dataset.parse_source(ep["price_source"])  # type: ignore[misc]
    assert price_dataset.find(pid, ep["id"]) == (gp, gm), f"the dataset prices {pid}/{ep['id']} otherwise"
    want = price_dataset.price(gp, gm)
    in_force = [
        c for c in ep.get("price_changes", ()) if c["from"] <= dt.datetime.now(dt.UTC).date().isoformat()
    ]
    if (
        in_force
    ):  # a scheduled change has come into force since the file was generated (the gateway applies it)
        ep = {**ep, "price": in_force[-1]["price"], "tiers": in_force[-1].get("tiers", [])}
    if mid in EMBEDDINGS:
        want.setdefault("output", 0)  # the dataset prices embedding input only
    assert ep["price"] is not None
    assert _shape(ep["price"]) == _shape(want)
    tiers = [(t["above"], _shape(t)) for t in ep.get("tiers", [])]
    assert tiers == [(t["above"], _shape(t)) for t in want.get("tiers", [])]


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
