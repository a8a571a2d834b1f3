"""Build-time generator of `models_generated.json`: every chat and embedding model of the providers we speak that
the pinned datasets list as callable and priced, beyond the hand-checked `models.yaml`.

    .venv/bin/python -m switchyard.registry.generate            # rewrite models_generated.json, print a summary

Inputs (both dev dependencies pinned in uv.lock; see README.md "Prices: the pinned dataset"):
- LiteLLM's bundled model table: which ids each provider serves (`mode` chat / responses / embedding), their
  context and output limits, embedding sizes, deprecation dates and capability flags;
- genai-prices: the price of every endpoint on a provider it covers; an id it does not price is left out. For
  DeepInfra and Nebius, which it does not cover, LiteLLM's own price (taken from their pricing pages) is used.

Rules: `models.yaml` wins (an endpoint it has, or a name it already uses, is never generated); an id whose
LiteLLM deprecation date has passed is left out; nothing is estimated (no price, no context: no entry). Models
served by several of our providers are one entry when their ids name the same model (Bedrock and Vertex ids
reduced to Anthropic's, Azure's to OpenAI's, hosts' `org/Model-Name` to `model-name`). Claude models take
Helicone's registry ids (`claude-4.7-opus` for `claude-opus-4-7`), the native ids are aliases.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from . import price_dataset as ds

HERE = Path(__file__).resolve().parent
OUT = HERE / "models_generated.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]*$")
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
ORG_AUTHOR = {
    "meta-llama": "meta-llama",
    "meta": "meta-llama",
    "qwen": "alibaba",
    "deepseek-ai": "deepseek",
    "mistralai": "mistralai",
    "mistral": "mistralai",
    "zai-org": "zai",
    "moonshotai": "moonshotai",
    "openai": "openai",
    "google": "google",
    "anthropic": "anthropic",
    "amazon": "amazon",
    "nvidia": "nvidia",
    "minimaxai": "minimax",
}
# Ids past their LiteLLM deprecation date that Helicone's registry still names (packages/cost/models/authors/openai/
# o1, gpt-4o): kept, with the date, so a migrating caller gets the provider's own answer rather than "unknown model".
HELICONE_LEGACY = {
    ("openai", "o1"),
    ("azure", "o1"),
    ("openai", "gpt-4o-search-preview-2025-03-11"),
    ("openai", "gpt-4o-mini-search-preview-2025-03-11"),
}
_REGION = re.compile(r"^(?:us|eu|apac|ap|global|jp|au|in|ca|uk|sa|me|af|us-gov)\.(?=[^.]+\.)")
_CLAUDE = re.compile(r"^claude-(opus|sonnet|haiku|fable|mythos)-(\d+)(?:-(\d))?$")
_DATE = re.compile(r"-\d{8}$")


def canonical(provider: str, upstream: str) -> str:
    """The name that ties one model's ids on different providers together."""
    name = upstream
    if provider == "vertex":
        name = name.split("@", 1)[0]
    elif provider == "bedrock":
        name = _REGION.sub("", name)
        if name.startswith("anthropic."):
            name = re.sub(r"-v\d+(?::\d+)?$", "", name.removeprefix("anthropic."))
    elif provider not in FIRST_PARTY and provider != "azure":
        name = name.rsplit("/", 1)[-1].lower()
    if name.startswith("claude-"):
        name = _DATE.sub("", name)
    return name


def model_id(key: str) -> str:
    """Helicone's registry id for a Claude model (`claude-opus-4-7` -> `claude-4.7-opus`), else the key."""
    m = _CLAUDE.match(key)
    if not m:
        return key
    family, major, minor = m.groups()
    return f"claude-{major}{'.' + minor if minor else ''}-{family}"


def author(provider: str, upstream: str, key: str) -> str:
    if key.startswith("claude-"):
        return "anthropic"
    if provider in FIRST_PARTY:
        return FIRST_PARTY[provider]
    if provider == "azure":
        return "openai"
    if provider == "vertex":
        return "google"
    org = (
        _REGION.sub("", upstream).split(".", 1)[0] if provider == "bedrock" else upstream.split("/", 1)[0]
    ).lower()
    if "/" not in upstream and provider != "bedrock":
        return "unknown"
    return ORG_AUTHOR.get(org, org if NAME_RE.match(org) and org != "accounts" else "unknown")


def _curated() -> dict[str, Any]:
    return yaml.safe_load((HERE / "models.yaml").read_text(encoding="utf-8"))["models"]


def _taken(curated: dict[str, Any]) -> tuple[set[str], set[tuple[str, str]]]:
    names: set[str] = set()
    endpoints: set[tuple[str, str]] = set()
    for mid, m in curated.items():
        names.add(mid.lower())
        names.update(a.lower() for a in m.get("aliases") or ())
        for pid, ep in m["endpoints"].items():
            names.add(str(ep["id"]).lower())
            endpoints.add((pid, str(ep["id"])))
            endpoints.add((pid, canonical(pid, str(ep["id"]))))
    return names, endpoints


def _candidates(table: dict[str, dict[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    """One record per (our provider, upstream id) that is callable, in a mode we serve, and priced."""
    providers = yaml.safe_load((HERE / "providers.yaml").read_text(encoding="utf-8"))
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
            if provider == "bedrock" and _REGION.match(upstream):
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


def _openrouter(recs: list[dict[str, Any]], today: dt.date) -> dict[str, Any] | None:
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


def build(today: dt.date | None = None) -> dict[str, Any]:
    curated = _curated()
    taken_names, taken_eps = _taken(curated)
    groups: dict[str, list[dict[str, Any]]] = {}
    today = today or dt.date.today()
    for rec in _candidates(ds.litellm_table(), today):
        if (rec["provider"], rec["upstream"]) in taken_eps or (rec["provider"], rec["key"]) in taken_eps:
            continue
        groups.setdefault(rec["key"], []).append(rec)
    for recs in groups.values():
        extra = _openrouter(recs, today)
        if extra is not None and ("openrouter", extra["upstream"]) not in taken_eps:
            recs.append(extra)
    models: dict[str, Any] = {}
    for key in sorted(groups):
        mid = model_id(key)
        if not NAME_RE.match(mid) or {mid.lower(), key.lower()} & taken_names:
            continue
        entry = _model(mid, key, groups[key])
        if entry is not None:
            models[mid] = entry
    return {
        "_": "Generated by `python -m switchyard.registry.generate`; do not edit (models.yaml wins).",
        "sources": {"genai-prices": ds.version(), "litellm": ds.litellm_version(), "on": today.isoformat()},
        "models": models,
    }


def _model(mid: str, key: str, recs: list[dict[str, Any]]) -> dict[str, Any] | None:
    kinds = {r["kind"] for r in recs}
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    # one endpoint per provider: prefer the id equal to the key (undated), then the shortest
    by_provider: dict[str, dict[str, Any]] = {}
    aliases: set[str] = set()
    for r in sorted(recs, key=lambda r: (r["upstream"] != r["key"], len(r["upstream"]), r["upstream"])):
        by_provider.setdefault(r["provider"], r)
        if NAME_RE.match(r["upstream"]) and r["provider"] in FIRST_PARTY:
            aliases.add(r["upstream"])
    if key != mid:
        aliases.add(key)
    aliases.discard(mid)
    first = by_provider.get("anthropic") or by_provider.get("openai") or next(iter(by_provider.values()))
    context = first["context"]
    m: dict[str, Any] = {
        "author": author(first["provider"], first["upstream"], key),
        "name": mid,
        "context": context,
    }
    if kind == "embedding":
        m["kind"] = "embedding"
        m["dimensions"] = first["dimensions"]
    elif isinstance(first["max_output"], int) and 0 < first["max_output"] < context:
        m["max_output"] = first["max_output"]  # (equal to the context: the table's placeholder, not a limit)
    if m["author"] == "anthropic":
        m["params"] = "claude"
        if first["native_json"]:
            m["structured_output"] = "native"
    elif m["author"] == "openai" and first["reasoning"] and {"openai", "azure"} & set(by_provider):
        m["params"] = "openai-reasoning-effort-none" if first["effort_none"] else "openai-reasoning"
    if aliases:
        m["aliases"] = sorted(aliases)
    if first["responses_only"]:
        m["notes"] = "Served on the Responses API only (LiteLLM mode `responses`)."
    m["endpoints"] = {p: _endpoint(r, m, context) for p, r in sorted(by_provider.items())}
    return m


def _endpoint(r: dict[str, Any], m: dict[str, Any], context: int) -> dict[str, Any]:
    ep: dict[str, Any] = {"id": r["upstream"]}
    price = dict(r["price"])
    tiers = price.pop("tiers", None)
    ep["price"] = price
    ep["price_source"] = r["source"]
    if r["note"]:
        ep["price_note"] = r["note"]
    if tiers and tiers[-1]["above"] <= (r["context"] if r["context"] != context else context):
        ep["tiers"] = tiers
    elif tiers:
        ep["price_note"] = (ep.get("price_note", "") + "; " if "price_note" in ep else "") + (
            "the dataset's tiers start beyond this context window"
        )
    if r["windows"]:  # time-of-day prices (UTC): observe/cost.py applies them at the time of the call
        ep["price_windows"] = r["windows"]
    if r["changes"]:  # scheduled by the dataset: providers/registry.py applies each from its date
        ep["price_changes"] = r["changes"]
    if r["context"] != context:
        ep["context"] = r["context"]
    mo = r["max_output"]
    if (
        m.get("kind") != "embedding"
        and isinstance(mo, int)
        and mo != m.get("max_output")
        and 0 < mo < r["context"]
    ):
        ep["max_output"] = mo
    if r["deprecated"]:
        ep["deprecated"] = r["deprecated"]
    if m.get("structured_output") == "native" and (
        r["provider"] == "vertex" or (r["provider"] == "bedrock" and not r["native_json"])
    ):
        ep["structured_output"] = "tool"
    if m.get("params", "").startswith("openai") and r["provider"] not in ("openai", "azure"):
        ep["params"] = "none"
    return ep


def main() -> int:
    data = build()
    OUT.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    models = data["models"]
    per: dict[str, int] = {}
    for m in models.values():
        for p in m["endpoints"]:
            per[p] = per.get(p, 0) + 1
    print(f"{len(models)} models, {sum(per.values())} endpoints -> {OUT.name}", file=sys.stderr)
    print("  " + ", ".join(f"{p} {n}" for p, n in sorted(per.items(), key=lambda x: -x[1])), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
