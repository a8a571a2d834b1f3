"""The pinned price dataset (pydantic's `genai-prices`, a dev dependency pinned in uv.lock) read in the registry's
units: USD per 1M tokens as `{input, output, cached_input, cache_write, cache_write_1h}` plus `tiers`.

Build time only: `registry/generate.py` fills `models_generated.json` from it, and the data test
(`tests/unit/test_registry_prices.py`) checks every endpoint whose `price_source` names a dataset against it; the
gateway never imports this module (prices are data in the registry files, read at start-up).

A `price_source` naming the dataset reads `genai-prices <version> (<dataset provider>/<dataset model id>)`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

# Our provider id -> the dataset's provider id. deepinfra, nebius, chutes and ollama have none.
DATASET_PROVIDER = {
    "openai": "openai",
    "azure": "azure",
    "anthropic": "anthropic",
    "google-ai-studio": "google",
    "vertex": "google",
    "bedrock": "aws",
    "groq": "groq",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "xai": "x-ai",
    "together": "together",
    "fireworks": "fireworks",
    "openrouter": "openrouter",
    "perplexity": "perplexity",
    "cerebras": "cerebras",
    "novita": "novita",
    "baseten": "baseten",
    "cohere": "cohere",
}

# dataset price key -> ours (per 1M tokens). Other keys (audio, images, searches, requests) are not token prices
# of text; they are named in a price_note by the generator.
_KEYS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cached_input",
    "cache_write_mtok": "cache_write",
    "cache_write_1h_mtok": "cache_write_1h",
}

SOURCE_RE = re.compile(r"^genai-prices (?P<version>\S+) \((?P<provider>[^/()]+)/(?P<model>[^()]+)\)$")


def version() -> str:
    import genai_prices

    return str(genai_prices.__version__)


def source(provider: str, model: str) -> str:
    return f"genai-prices {version()} ({provider}/{model})"


def parse_source(text: str) -> tuple[str, str, str] | None:
    """(version, dataset provider, dataset model id) of a `price_source` that names the dataset, else None."""
    m = SOURCE_RE.match(text or "")
    return (m["version"], m["provider"], m["model"]) if m else None


def _providers() -> list[Any]:
    from genai_prices.data import providers

    return providers


def _provider(pid: str) -> Any:
    for p in _providers():
        if p.id == pid:
            return p
    raise KeyError(pid)


def find(our_provider: str, upstream_id: str) -> tuple[str, str] | None:
    """(dataset provider, dataset model id) the dataset prices `upstream_id` on our provider with, if any. The
    dataset's own fallbacks apply (Azure to OpenAI, Vertex's Claude to Anthropic's prices, ...)."""
    gp = DATASET_PROVIDER.get(our_provider)
    if gp is None:
        return None
    provider = _provider(gp)
    model = provider.find_model(upstream_id, all_providers=_providers())
    if model is None:
        return None
    owner = next(p.id for p in _providers() if any(m is model for m in p.models))
    return owner, model.id


def model_info(provider: str, model_id: str) -> Any:
    for m in _provider(provider).models:
        if m.id == model_id:
            return m
    raise KeyError(f"{provider}/{model_id}")


def price_changes(provider: str, model_id: str, after: dt.date) -> list[dict[str, Any]]:
    """The prices the dataset schedules after `after` (its `StartDateConstraint`s, in force from that UTC date), as
    `[{from: YYYY-MM-DD, price: {...}, tiers?: [...]}]` in date order."""
    prices = model_info(provider, model_id).prices
    days = sorted(
        {
            d
            for c in (prices if isinstance(prices, list) else ())
            if (d := getattr(c.constraint, "start_date", None))
        }
    )
    out = []
    for day in (d for d in days if d > after):
        p = price(provider, model_id, dt.datetime.combine(day, dt.time(), dt.UTC))
        p.pop("extra", None)
        tiers = p.pop("tiers", None)
        out.append({"from": day.isoformat(), "price": p, **({"tiers": tiers} if tiers else {})})
    return out


def price(provider: str, model_id: str, when: dt.datetime | None = None) -> dict[str, Any]:
    """The dataset's text-token price of one model, in the registry's shape: {input, output, ...} and, when any
    key is tiered, `tiers: [{above: N, input, output, ...}]` (all tokens at the tier's rate once the prompt exceeds
    N, the same cliff rule as observe/cost.py). Keys the dataset does not give are left out; `extra` lists its
    other price keys (audio, searches, ...)."""
    from genai_prices.types import TieredPrices

    info = model_info(provider, model_id)
    mp = info.get_prices(when or dt.datetime.now(dt.UTC))
    values = {k: v for k, v in vars(mp).items() if v is not None and not k.startswith("_")}
    out: dict[str, Any] = {}
    thresholds: set[int] = set()
    for key, ours in _KEYS.items():
        v = values.get(key)
        if v is None:
            continue
        if isinstance(v, TieredPrices):
            out[ours] = _num(v.base)
            thresholds.update(t.start for t in v.tiers)
        else:
            out[ours] = _num(v)
    tiers = []
    for above in sorted(thresholds):
        tier: dict[str, Any] = {"above": above}
        for key, ours in _KEYS.items():
            v = values.get(key)
            if v is None:
                continue
            if isinstance(v, TieredPrices):
                applicable = v.base
                for t in v.tiers:
                    if t.start <= above:
                        applicable = t.price
                tier[ours] = _num(applicable)
            else:
                tier[ours] = _num(v)
        tiers.append(tier)
    if tiers:
        out["tiers"] = tiers
    extra = sorted(k for k in values if k not in _KEYS)
    if extra:
        out["extra"] = extra
    return out


# -- LiteLLM's model table: limits, modes and capability flags; prices only where genai-prices has no provider --

LITELLM_RE = re.compile(r"^litellm (?P<version>\S+) \((?P<key>[^()]+)\)$")


def litellm_version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version("litellm")


def litellm_table() -> dict[str, dict[str, Any]]:
    """The model table bundled with the installed LiteLLM (a dev dependency pinned in uv.lock), read as JSON:
    importing litellm itself takes seconds and is not needed."""
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations, "litellm is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    table = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in table.items() if isinstance(v, dict)}


def litellm_source(key: str) -> str:
    return f"litellm {litellm_version()} ({key})"


def parse_litellm_source(text: str) -> tuple[str, str] | None:
    m = LITELLM_RE.match(text or "")
    return (m["version"], m["key"]) if m else None


def litellm_price(entry: dict[str, Any]) -> dict[str, Any] | None:
    """A LiteLLM entry's text-token price per 1M tokens (None when it gives no input and output price)."""
    if entry.get("input_cost_per_token") is None or entry.get("output_cost_per_token") is None:
        return None
    out: dict[str, Any] = {}
    for ours, theirs in (
        ("input", "input_cost_per_token"),
        ("output", "output_cost_per_token"),
        ("cached_input", "cache_read_input_token_cost"),
        ("cache_write", "cache_creation_input_token_cost"),
        ("cache_write_1h", "cache_creation_input_token_cost_above_1hr"),
    ):
        if entry.get(theirs) is not None:
            out[ours] = _num(round(float(entry[theirs]) * 1_000_000, 9))
    return out


def _num(v: Any) -> float | int:
    f = float(v)
    return int(f) if f.is_integer() else f
