"""The pinned price dataset (pydantic's `genai-prices`, a dev dependency pinned in uv.lock) read in the registry's
units: USD per 1M tokens as `{input, output, cached_input, cache_write, cache_write_1h}` plus `tiers`.

Build time only: the data test (`tests/unit/test_registry_prices.py`) checks every endpoint whose `price_source`
names the dataset against it; the gateway never imports this module (prices are data in the registry files, read
at start-up).

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


def _num(v: Any) -> float | int:
    f = float(v)
    return int(f) if f.is_integer() else f
