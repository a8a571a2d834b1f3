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


def _conditional(provider: str, model_id: str) -> list[Any]:
    prices = model_info(provider, model_id).prices
    return prices if isinstance(prices, list) else []


def _standard_index(conditional: list[Any], day: dt.date) -> int:
    """Index of the entry the dataset prices `day` with outside its time-of-day windows: the last entry without a
    constraint or with a start date on or before `day` (genai-prices tries its list last to first and falls back to
    the first entry)."""
    index = 0
    for i, c in enumerate(conditional):
        start = getattr(c.constraint, "start_date", None)
        if c.constraint is None or (start is not None and start <= day):
            index = i
    return index


def standard_price(provider: str, model_id: str, day: dt.date) -> dict[str, Any]:
    """The dataset's price on `day` (UTC) outside its time-of-day windows, in the shape of `price`."""
    conditional = _conditional(provider, model_id)
    if not conditional:
        return price(provider, model_id, dt.datetime.combine(day, dt.time(), dt.UTC))
    return _shape(conditional[_standard_index(conditional, day)].prices)


def windows(provider: str, model_id: str, day: dt.date) -> list[dict[str, Any]]:
    """The time-of-day prices (`TimeOfDateConstraint`s) in force on `day`, as `[{from: "HH:MM", to: "HH:MM", price,
    tiers?}]` (UTC, `to` excluded; `to` before `from` crosses midnight; a later window wins where two overlap).
    A window listed before the day's standard price is shadowed by it (genai-prices' last-active-wins rule) and left
    out."""
    conditional = _conditional(provider, model_id)
    out = []
    for c in conditional[_standard_index(conditional, day) + 1 :] if conditional else ():
        if not hasattr(c.constraint, "start_time"):
            continue
        p = _shape(c.prices)
        p.pop("extra", None)
        tiers = p.pop("tiers", None)
        window = {"from": _hhmm(c.constraint.start_time), "to": _hhmm(c.constraint.end_time), "price": p}
        out.append({**window, **({"tiers": tiers} if tiers else {})})
    return out


def _hhmm(t: dt.time) -> str:
    """A constraint's time of day in UTC as HH:MM (naive times are UTC, as in genai-prices)."""
    if t.tzinfo is not None:
        t = dt.datetime.combine(dt.date(1970, 1, 1), t).astimezone(dt.UTC).time()
    if t.second or t.microsecond:
        raise ValueError(f"time-of-day price boundary {t} is not a whole minute")
    return f"{t.hour:02d}:{t.minute:02d}"


def price_changes(provider: str, model_id: str, after: dt.date) -> list[dict[str, Any]]:
    """The prices the dataset schedules after `after` (its `StartDateConstraint`s, in force from that UTC date), as
    `[{from: YYYY-MM-DD, price: {...}, tiers?: [...], price_windows?: [...]}]` in date order: each replaces the
    price, the tiers and the time-of-day windows before it."""
    days = sorted(
        {d for c in _conditional(provider, model_id) if (d := getattr(c.constraint, "start_date", None))}
    )
    out = []
    for day in (d for d in days if d > after):
        p = standard_price(provider, model_id, day)
        p.pop("extra", None)
        tiers = p.pop("tiers", None)
        wins = windows(provider, model_id, day)
        out.append(
            {
                "from": day.isoformat(),
                "price": p,
                **({"tiers": tiers} if tiers else {}),
                **({"price_windows": wins} if wins else {}),
            }
        )
    return out


def price(provider: str, model_id: str, when: dt.datetime | None = None) -> dict[str, Any]:
    """The dataset's text-token price of one model at `when` (now), in the registry's shape: {input, output, ...}
    and, when any key is tiered, `tiers: [{above: N, input, output, ...}]` (all tokens at the tier's rate once the
    prompt exceeds N, the same cliff rule as observe/cost.py). Keys the dataset does not give are left out; `extra`
    lists its other price keys (audio, searches, ...)."""
    return _shape(model_info(provider, model_id).get_prices(when or dt.datetime.now(dt.UTC)))


def _shape(mp: Any) -> dict[str, Any]:
    """One dataset `ModelPrice` in the registry's shape (see `price`)."""
    from genai_prices.types import TieredPrices

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
