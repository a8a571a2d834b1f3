"""The candidates for `models_generated.json` (`generate.py`): every (our provider, upstream id) LiteLLM's bundled
model table lists as callable in a mode we serve (chat / responses / embedding), past no deprecation date, with
its limits and capability flags, priced from genai-prices (LiteLLM's own price for DeepInfra and Nebius, which
genai-prices does not cover; no price: no candidate); plus the OpenRouter endpoint of a closed-weight model when
genai-prices prices OpenRouter's id for it. `canonical` names the model an id belongs to across providers.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from . import price_dataset as ds

_HERE = Path(__file__).resolve().parent
MODES = {"chat": "chat", "responses": "chat", "embedding": "embedding"}

# our provider -> (LiteLLM provider names, key prefix LiteLLM puts before the upstream id)
LITELLM = {
    "openai": (("openai",), ""),
    "azure": (("azure",), "azure/"),
    "anthropic": (("anthropic",), ""),
    "google-ai-studio": (("gemini",), "gemini/"),
    "vertex": (("vertex_ai-language-models", "vertex_ai-anthropic_models", "vertex_ai-embedding-models"), ""),
    "bedrock": (("bedrock", "bedrock_converse"), ""),
    "groq": (("groq",), "groq/"),
    "deepseek": (("deepseek",), "deepseek/"),
    "mistral": (("mistral",), "mistral/"),
    "xai": (("xai",), "xai/"),
    "together": (("together_ai",), "together_ai/"),
    "fireworks": (("fireworks_ai",), "fireworks_ai/"),
    "deepinfra": (("deepinfra",), "deepinfra/"),
    "perplexity": (("perplexity",), "perplexity/"),
    "cerebras": (("cerebras",), "cerebras/"),
    "nebius": (("nebius",), "nebius/"),
    "novita": (("novita",), "novita/"),
    "baseten": (("baseten",), "baseten/"),
    "cohere": (("cohere_chat", "cohere"), "cohere/"),
}
FIRST_PARTY = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google-ai-studio": "google",
    "mistral": "mistralai",
    "xai": "xai",
    "deepseek": "deepseek",
    "cohere": "cohere",
    "perplexity": "perplexity",
}
# Ids past their LiteLLM deprecation date that Helicone's registry still names (packages/cost/models/authors/openai/
# o1, gpt-4o): kept, with the date, so a migrating caller gets the provider's own answer rather than "unknown model".
HELICONE_LEGACY = {
    ("openai", "o1"),
    ("azure", "o1"),
    ("openai", "gpt-4o-search-preview-2025-03-11"),
    ("openai", "gpt-4o-mini-search-preview-2025-03-11"),
}
REGION = re.compile(r"^(?:us|eu|apac|ap|global|jp|au|in|ca|uk|sa|me|af|us-gov)\.(?=[^.]+\.)")
_DATE = re.compile(r"-\d{8}$")


def canonical(provider: str, upstream: str) -> str:
    """The name that ties one model's ids on different providers together."""
    name = upstream
    if provider == "vertex":
        name = name.split("@", 1)[0]
    elif provider == "bedrock":
        name = REGION.sub("", name)
        if name.startswith("anthropic."):
            name = re.sub(r"-v\d+(?::\d+)?$", "", name.removeprefix("anthropic."))
    elif provider not in FIRST_PARTY and provider != "azure":
        name = name.rsplit("/", 1)[-1].lower()
    if name.startswith("claude-"):
        name = _DATE.sub("", name)
    return name


def candidates(table: dict[str, dict[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    """One record per (our provider, upstream id) that is callable, in a mode we serve, and priced."""
    providers = yaml.safe_load((_HERE / "providers.yaml").read_text(encoding="utf-8"))
    out = []
    for provider, (names, prefix) in LITELLM.items():
        for key, e in table.items():
            if e.get("litellm_provider") not in names or e.get("mode") not in MODES:
                continue
            if e["mode"] == "embedding" and not providers[provider]["embeddings"]:
                continue
            upstream = key.removeprefix(prefix) if prefix and key.startswith(prefix) else key
            if provider in ("vertex", "bedrock", "cohere"):
                upstream = upstream.removeprefix("vertex_ai/").removeprefix("bedrock/")
                if "/" in upstream:  # region-path and throughput variants
                    continue
            if provider == "azure" and "/" in upstream:  # data-zone variants (azure/eu/...)
                continue
            if provider == "perplexity" and "/" in upstream:  # the Agent API's third-party models
                continue
            if upstream.count("/") > 1 and not upstream.startswith("accounts/fireworks/"):
                continue  # host-specific variants (`org/model/community`)
            if upstream.startswith("ft:") or "-tts" in upstream:
                continue  # fine-tuning base prices (not callable as such), speech output
            if provider == "bedrock" and "." not in upstream:
                continue
            if provider == "bedrock" and REGION.match(upstream):
                continue  # the base id is listed; the gateway adds an inference-profile prefix (cross_region)
            depr = e.get("deprecation_date")
            if (
                depr
                and dt.date.fromisoformat(str(depr)[:10]) < today
                and (provider, upstream) not in HELICONE_LEGACY
            ):
                continue
            rec = _priced(provider, upstream, key, e, today)
            if rec is not None:
                out.append(rec)
    return out


def _priced(
    provider: str, upstream: str, key: str, e: dict[str, Any], today: dt.date
) -> dict[str, Any] | None:
    kind = MODES[e["mode"]]
    context = e.get("max_input_tokens") or e.get("max_tokens")
    if not isinstance(context, int) or context <= 0:
        return None
    if kind == "embedding" and not isinstance(e.get("output_vector_size"), int):
        return None
    found = ds.find(provider, upstream)
    note, changes, windows = None, [], []
    price: dict[str, Any] | None
    if found is not None:
        price = ds.standard_price(*found, today)
        windows = ds.windows(*found, today)
        changes = ds.price_changes(*found, after=today)
        source = ds.source(*found)
        extra = price.pop("extra", None)
        if extra:
            note = "the dataset also bills: " + ", ".join(extra)
    elif provider not in ds.DATASET_PROVIDER:
        price = ds.litellm_price(e)
        source = ds.litellm_source(key)
    else:
        return None
    if price is not None and kind == "embedding":
        price["output"] = 0  # (the dataset gives embeddings an input price only)
    if price is None or "input" not in price or "output" not in price:
        return None
    return {
        "provider": provider,
        "upstream": upstream,
        "key": canonical(provider, upstream),
        "kind": kind,
        "context": context,
        "max_output": e.get("max_output_tokens") if kind == "chat" else None,
        "dimensions": e.get("output_vector_size") if kind == "embedding" else None,
        "price": price,
        "windows": windows,
        "changes": changes,
        "source": source,
        "note": note,
        "deprecated": str(e["deprecation_date"])[:10] if e.get("deprecation_date") else None,
        "responses_only": e["mode"] == "responses",
        "reasoning": bool(e.get("supports_reasoning")),
        "effort_none": bool(e.get("supports_none_reasoning_effort")),
        "native_json": bool(e.get("supports_native_structured_output")),
    }


# OpenRouter ids of closed-weight models (OpenRouter passes the author's list price through; open-weight models
# are billed at whichever host serves them, so they get no generated OpenRouter endpoint).
_OPENROUTER_ORG = {"anthropic": "anthropic", "openai": "openai", "google-ai-studio": "google", "xai": "x-ai"}
_CLAUDE_VERSION = re.compile(r"^(claude-[a-z]+-\d+)-(\d)$")


def openrouter(recs: list[dict[str, Any]], today: dt.date) -> dict[str, Any] | None:
    """An OpenRouter endpoint for a closed-weight model, when the dataset prices OpenRouter's id for it."""
    first = next((r for r in recs if r["provider"] in _OPENROUTER_ORG and r["upstream"] == r["key"]), None)
    if first is None or first["kind"] != "chat" or first["key"].startswith(("gpt-oss", "gemma")):
        return None
    name = _CLAUDE_VERSION.sub(r"\1.\2", first["key"])
    upstream = f"{_OPENROUTER_ORG[first['provider']]}/{name}"
    found = ds.find("openrouter", upstream)
    if found != ("openrouter", upstream):  # only the dataset's own entry for exactly this id
        return None
    price = ds.standard_price(*found, today)
    price.pop("extra", None)
    if "input" not in price or "output" not in price:
        return None
    context = ds.model_info(*found).context_window or first["context"]
    return {
        **first,
        "provider": "openrouter",
        "upstream": upstream,
        "context": context,
        "price": price,
        "windows": ds.windows(*found, today),
        "changes": ds.price_changes(*found, after=today),
        "source": ds.source(*found),
        "note": None,
        "deprecated": None,
        "native_json": False,
    }
