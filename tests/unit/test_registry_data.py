"""Schema checks for the registry data files (src/switchyard/registry/*.yaml).

These tests only look at the data: they load both files with yaml.safe_load and enforce
the rules documented in src/switchyard/registry/README.md.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REGISTRY_DIR = Path(__file__).resolve().parents[2] / "src" / "switchyard" / "registry"

FORMATS = {"openai", "anthropic", "gemini", "bedrock", "azure", "vertex"}
AUTHS = {"bearer", "x-api-key", "api-key", "goog-api-key", "query-key", "aws-sigv4", "google-oauth", "none"}
PROVIDER_KEYS_REQUIRED = {
    "format",
    "base_url",
    "auth",
    "key_env",
    "priority",
    "completions",
    "embeddings",
    "responses",
}
PROVIDER_KEYS_OPTIONAL = {"extra_env", "options", "notes"}
MODEL_KEYS_REQUIRED = {"author", "name", "context", "endpoints"}
MODEL_KEYS_OPTIONAL = {
    "kind",
    "created",
    "max_output",
    "dimensions",
    "aliases",
    "notes",
    "params",
    "structured_output",
}
ENDPOINT_KEYS_REQUIRED = {"id", "price"}
ENDPOINT_KEYS_OPTIONAL = {
    "price_note",
    "price_changes",  # dated prices the dataset schedules (providers/price_schedule.dated_prices)
    "price_windows",  # time-of-day prices, UTC (observe/cost.rates_at)
    "price_source",
    "tiers",
    "completions",
    "context",
    "max_output",
    "deprecated",
    "notes",
    "priority",
    "params",
    "structured_output",
}
PRICE_KEYS_REQUIRED = {"input", "output"}
PRICE_KEYS_OPTIONAL = {"cached_input", "cache_write", "cache_write_1h"}
KINDS = {"chat", "embedding"}

# Helicone's backward-compat aliases (reference §3.1); each must resolve when its target exists.
HELICONE_ALIASES = {
    "gemini-1.5-flash": "gemini-2.5-flash-lite",
    "claude-3.5-sonnet": "claude-3.5-sonnet-v2",
    "claude-3.5-sonnet-20240620": "claude-3.5-sonnet-v2",
    "deepseek-r1": "deepseek-reasoner",
    "kimi-k2": "kimi-k2-0905",
    "kimi-k2-instruct": "kimi-k2-0905",
}

# A name must survive Helicone's model-string grammar: "a,b", "model/provider", "!provider",
# "model:online". So no commas, slashes, whitespace, leading "!" or ":online" suffix.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]*$")


def _load(name: str) -> Any:
    with (REGISTRY_DIR / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def providers() -> dict[str, dict[str, Any]]:
    data = _load("providers.yaml")
    assert isinstance(data, dict) and data, "providers.yaml must be a non-empty mapping"
    return data


@pytest.fixture(scope="module")
def curated() -> dict[str, dict[str, Any]]:
    data = _load("models.yaml")
    assert isinstance(data, dict) and set(data) == {"models"}, (
        "models.yaml must have one top-level key: models"
    )
    assert isinstance(data["models"], dict)
    return data["models"]


@pytest.fixture(scope="module")
def generated() -> dict[str, dict[str, Any]]:
    """models_generated.json (registry/generate.py), its JSON date strings read as dates like YAML's."""
    data = json.loads((REGISTRY_DIR / "models_generated.json").read_text(encoding="utf-8"))
    assert set(data) == {"_", "sources", "models"}
    for m in data["models"].values():
        for ep in m["endpoints"].values():
            if "deprecated" in ep:
                ep["deprecated"] = dt.date.fromisoformat(ep["deprecated"])
    return data["models"]


@pytest.fixture(scope="module")
def models(curated, generated) -> dict[str, dict[str, Any]]:
    """Every model the registry loads: the schema rules below hold for both files."""
    assert not set(curated) & set(generated), "a generated id repeats a models.yaml id"
    return {**curated, **generated}


def _endpoints(models: dict[str, dict[str, Any]]):
    for model_id, model in models.items():
        for provider, ep in model["endpoints"].items():
            yield model_id, provider, ep


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_pos_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


# ---------------------------------------------------------------- providers


def test_provider_fields(providers):
    for pid, p in providers.items():
        assert isinstance(p, dict), pid
        missing = PROVIDER_KEYS_REQUIRED - set(p)
        assert not missing, f"{pid}: missing {missing}"
        unknown = set(p) - PROVIDER_KEYS_REQUIRED - PROVIDER_KEYS_OPTIONAL
        assert not unknown, f"{pid}: unknown keys {unknown}"
        assert p["format"] in FORMATS, f"{pid}: format {p['format']!r}"
        assert p["auth"] in AUTHS, f"{pid}: auth {p['auth']!r}"
        assert _is_pos_int(p["priority"]), f"{pid}: priority"
        for flag in ("completions", "embeddings", "responses"):
            assert isinstance(p[flag], bool), f"{pid}: {flag} must be a bool"
        assert isinstance(p["key_env"], list), f"{pid}: key_env must be a list"
        assert all(isinstance(v, str) and re.fullmatch(r"[A-Z][A-Z0-9_]*", v) for v in p["key_env"]), pid
        assert len(set(p["key_env"])) == len(p["key_env"]), f"{pid}: duplicate key_env"
        if p["auth"] == "none":
            assert p["key_env"] == [], f"{pid}: auth none takes no key_env"
        else:
            assert p["key_env"], f"{pid}: needs at least one key_env"
        for name, envs in (p.get("extra_env") or {}).items():
            assert isinstance(name, str) and isinstance(envs, list) and envs, f"{pid}: extra_env.{name}"
        for k, v in (p.get("options") or {}).items():
            assert isinstance(v, str | int | float | bool), f"{pid}: options.{k} must be a scalar"


def test_provider_base_urls(providers):
    for pid, p in providers.items():
        url = p["base_url"]
        if p["format"] == "openai":
            assert isinstance(url, str), f"{pid}: openai-format providers need a base_url"
        if url is None:
            continue
        assert isinstance(url, str) and not url.endswith("/"), f"{pid}: base_url without trailing slash"
        scheme = "http://" if url.startswith("http://") else "https://"
        assert url.startswith(scheme), f"{pid}: base_url scheme"
        if scheme == "http://":
            assert url.startswith(("http://localhost", "http://127.0.0.1")), (
                f"{pid}: plain http only for local"
            )
        if "{" in url:
            assert p["format"] != "openai", f"{pid}: placeholders only for non-openai formats"
            assert set(re.findall(r"\{(\w+)\}", url)) <= {"region", "project"}, pid


def test_required_providers_present(providers):
    required = {
        "openai",
        "azure",
        "anthropic",
        "google-ai-studio",
        "vertex",
        "bedrock",
        "groq",
        "deepseek",
        "mistral",
        "xai",
        "together",
        "fireworks",
        "deepinfra",
        "openrouter",
        "perplexity",
        "cerebras",
        "nebius",
        "novita",
        "chutes",
        "baseten",
        "cohere",
        "ollama",
    }
    assert required <= set(providers), required - set(providers)


def test_known_provider_facts(providers):
    assert providers["azure"]["format"] == "azure" and providers["azure"]["base_url"] is None
    assert providers["azure"]["auth"] == "api-key" and providers["azure"]["key_env"] == [
        "AZURE_OPENAI_API_KEY"
    ]
    a = providers["anthropic"]
    assert (a["format"], a["base_url"], a["auth"]) == (
        "anthropic",
        "https://api.anthropic.com/v1",
        "x-api-key",
    )
    assert a["key_env"] == ["ANTHROPIC_API_KEY"]
    g = providers["google-ai-studio"]
    assert g["format"] == "gemini" and g["auth"] == "goog-api-key"
    assert g["key_env"][:2] == ["GEMINI_API_KEY", "GOOGLE_API_KEY"]
    assert providers["vertex"]["auth"] == "google-oauth" and providers["vertex"]["format"] == "vertex"
    assert providers["bedrock"]["auth"] == "aws-sigv4" and providers["bedrock"]["key_env"] == [
        "AWS_ACCESS_KEY_ID"
    ]
    assert providers["groq"]["base_url"] == "https://api.groq.com/openai/v1"
    assert providers["deepinfra"]["base_url"] == "https://api.deepinfra.com/v1/openai"
    assert providers["ollama"]["base_url"] == "http://localhost:11434/v1"
    assert providers["ollama"]["auth"] == "none"
    # Helicone tiers
    assert providers["openai"]["priority"] == 3 and providers["anthropic"]["priority"] == 3
    assert providers["openrouter"]["priority"] == 10


# ---------------------------------------------------------------- models


def test_model_count(models, curated):
    assert len(curated) >= 75 and len(models) >= 400


def test_generated_prices_name_their_dataset(generated):
    """Every generated price names the pinned dataset it came from (tests/unit/test_registry_prices.py checks the
    figures); genai-prices first, LiteLLM's table only for providers genai-prices does not cover."""
    for mid, m in generated.items():
        for pid, ep in m["endpoints"].items():
            source = ep.get("price_source", "")
            assert source.startswith("genai-prices ") or (
                source.startswith("litellm ") and pid in ("deepinfra", "nebius")
            ), f"{mid}/{pid}: price_source {source!r}"


def test_model_fields(models):
    for mid, m in models.items():
        assert isinstance(mid, str) and NAME_RE.match(mid) and not mid.endswith(":online"), mid
        assert isinstance(m, dict), mid
        missing = MODEL_KEYS_REQUIRED - set(m)
        assert not missing, f"{mid}: missing {missing}"
        unknown = set(m) - MODEL_KEYS_REQUIRED - MODEL_KEYS_OPTIONAL
        assert not unknown, f"{mid}: unknown keys {unknown}"
        assert isinstance(m["author"], str) and m["author"], mid
        assert isinstance(m["name"], str) and m["name"], mid
        kind = m.get("kind", "chat")
        assert kind in KINDS, f"{mid}: kind {kind!r}"
        assert _is_pos_int(m["context"]), f"{mid}: context must be a positive int"
        if "max_output" in m:
            assert _is_pos_int(m["max_output"]), f"{mid}: max_output must be a positive int"
            assert m["max_output"] <= m["context"], f"{mid}: max_output > context"
        if kind == "embedding":
            assert "max_output" not in m, f"{mid}: embedding models have no max_output"
            assert _is_pos_int(m.get("dimensions")), f"{mid}: embedding models need dimensions"
        else:
            assert "dimensions" not in m, f"{mid}: dimensions only for embedding models"
        if "created" in m:
            created = m["created"]
            assert isinstance(created, dt.date) and not isinstance(created, dt.datetime), (
                f"{mid}: created must be an unquoted YYYY-MM-DD date"
            )
            assert dt.date(2020, 1, 1) <= created <= dt.date(2027, 12, 31), f"{mid}: created {created}"
        if "notes" in m:
            assert isinstance(m["notes"], str), mid
        assert isinstance(m["endpoints"], dict) and m["endpoints"], f"{mid}: needs at least one endpoint"


def test_aliases(models):
    ids = set(models)
    seen: dict[str, str] = {}
    for mid, m in models.items():
        aliases = m.get("aliases", [])
        assert isinstance(aliases, list), mid
        for alias in aliases:
            assert isinstance(alias, str) and NAME_RE.match(alias) and not alias.endswith(":online"), (
                f"{mid}: bad alias {alias!r}"
            )
            assert alias not in ids, f"{mid}: alias {alias!r} collides with a model id"
            assert alias != mid, f"{mid}: alias equals its own id"
            assert alias not in seen, f"alias {alias!r} used by both {seen.get(alias)} and {mid}"
            seen[alias] = mid


def test_helicone_backward_compat_aliases(models):
    resolve = {alias: mid for mid, m in models.items() for alias in m.get("aliases", [])}
    for alias, target in HELICONE_ALIASES.items():
        if target in models:
            assert resolve.get(alias) == target, f"Helicone alias {alias} -> {target} missing"


def test_endpoint_providers_exist(models, providers):
    for mid, provider, _ in _endpoints(models):
        assert provider in providers, f"{mid}: unknown provider {provider!r}"


def test_endpoint_fields(models, providers):
    for mid, provider, ep in _endpoints(models):
        where = f"{mid}/{provider}"
        assert isinstance(ep, dict), where
        missing = ENDPOINT_KEYS_REQUIRED - set(ep)
        assert not missing, f"{where}: missing {missing}"
        unknown = set(ep) - ENDPOINT_KEYS_REQUIRED - ENDPOINT_KEYS_OPTIONAL
        assert not unknown, f"{where}: unknown keys {unknown}"
        assert isinstance(ep["id"], str) and ep["id"].strip() == ep["id"] and ep["id"], where
        for cap in ("context", "max_output"):
            if cap in ep:
                assert _is_pos_int(ep[cap]), f"{where}: {cap} must be a positive int"
        if "completions" in ep:
            assert isinstance(ep["completions"], bool), where
        if "priority" in ep:
            assert _is_pos_int(ep["priority"]), where
        if "deprecated" in ep:
            assert isinstance(ep["deprecated"], dt.date), f"{where}: deprecated must be a YYYY-MM-DD date"
        for text in ("notes", "price_note"):
            if text in ep:
                assert isinstance(ep[text], str) and ep[text].strip(), f"{where}: {text}"
        if models[mid].get("kind", "chat") == "embedding":
            assert providers[provider]["embeddings"], f"{where}: provider does not serve embeddings"


def _check_price_map(where: str, price: dict[str, Any], required: set[str]) -> None:
    assert isinstance(price, dict), where
    missing = required - set(price)
    assert not missing, f"{where}: price missing {missing}"
    unknown = set(price) - PRICE_KEYS_REQUIRED - PRICE_KEYS_OPTIONAL - {"above"}
    assert not unknown, f"{where}: unknown price keys {unknown}"
    for key, value in price.items():
        if key == "above":
            continue
        assert _is_number(value) and value >= 0, (
            f"{where}: {key} must be a non-negative number, got {value!r}"
        )
        assert value < 1000, f"{where}: {key}={value} looks like a per-token or per-1K figure, not per 1M"


def test_prices(models):
    for mid, provider, ep in _endpoints(models):
        where = f"{mid}/{provider}"
        price = ep["price"]
        if price is None:
            assert isinstance(ep.get("price_note"), str) and ep["price_note"].strip(), (
                f"{where}: a null price needs a price_note"
            )
            assert "tiers" not in ep, f"{where}: tiers without a base price"
            continue
        _check_price_map(where, price, PRICE_KEYS_REQUIRED)
        if "cached_input" in price:
            assert price["cached_input"] <= price["input"], f"{where}: cached_input above input"
        if models[mid].get("kind", "chat") == "embedding":
            assert price["output"] == 0, f"{where}: embedding output price must be 0"


def test_tiers(models):
    for mid, provider, ep in _endpoints(models):
        tiers = ep.get("tiers")
        if tiers is None:
            continue
        where = f"{mid}/{provider}"
        assert isinstance(tiers, list) and tiers, where
        last = 0
        for tier in tiers:
            assert "above" in tier and _is_pos_int(tier["above"]) and tier["above"] > last, (
                f"{where}: tiers need strictly increasing positive `above`"
            )
            last = tier["above"]
            _check_price_map(where, tier, {"input", "output"})
        # A threshold equal to the context window is allowed: Claude's >200k tier applies only
        # with the 1M-context beta, so the advertised (default) window stays 200k.
        ctx = ep.get("context", models[mid]["context"])
        assert last <= ctx, f"{where}: tier threshold beyond the context window"


def test_completions_flag(models, providers):
    legacy = {(mid, prov) for mid, prov, ep in _endpoints(models) if ep.get("completions")}
    assert ("gpt-3.5-turbo-instruct", "openai") in legacy
    assert providers["openai"]["completions"] is False


def test_required_models_present(models):
    required = {
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "o3",
        "o3-mini",
        "o4-mini",
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-instruct",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        "claude-3-haiku",
        "claude-3.5-haiku",
        "claude-3.7-sonnet",
        "claude-sonnet-4",
        "claude-4.5-sonnet",
        "claude-opus-4",
        "claude-opus-4-1",
        "claude-4.5-haiku",
        "gemini-2.0-flash",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-2.5-pro",
        "gemini-embedding-001",
        "llama-3.1-8b-instruct",
        "llama-3.3-70b-instruct",
        "llama-4-scout",
        "llama-4-maverick",
        "deepseek-reasoner",
        "grok-3",
        "grok-3-mini",
        "grok-4",
        "kimi-k2-0905",
        "gpt-oss-20b",
        "gpt-oss-120b",
        "sonar",
    }
    assert required <= set(models), required - set(models)
    for mid in (
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        "gemini-embedding-001",
    ):
        assert models[mid]["kind"] == "embedding", mid


def test_claude_has_cloud_endpoints(models):
    for mid in (
        "claude-sonnet-4",
        "claude-4.5-sonnet",
        "claude-opus-4",
        "claude-opus-4-1",
        "claude-4.5-haiku",
    ):
        eps = models[mid]["endpoints"]
        assert {"anthropic", "bedrock", "vertex"} <= set(eps), mid
        assert eps["bedrock"]["id"].startswith("anthropic."), mid
        assert "@" in eps["vertex"]["id"], mid
    assert (
        models["claude-sonnet-4"]["endpoints"]["bedrock"]["id"] == "anthropic.claude-sonnet-4-20250514-v1:0"
    )
    assert models["claude-sonnet-4"]["endpoints"]["vertex"]["id"] == "claude-sonnet-4@20250514"


def test_spot_prices(models):
    """A few figures that are easy to get wrong (per 1M tokens)."""

    def price(mid: str, prov: str) -> dict[str, Any]:
        return models[mid]["endpoints"][prov]["price"]

    assert price("gpt-4o-mini", "openai") == {"input": 0.15, "output": 0.60, "cached_input": 0.075}
    assert price("gpt-4.1-mini", "openai")["input"] == 0.40  # not Helicone's 0.25
    assert price("gpt-5", "openai")["cached_input"] == 0.125
    sonnet = models["claude-sonnet-4"]["endpoints"]["anthropic"]
    assert sonnet["price"]["input"] == 3.00 and sonnet["tiers"][0]["above"] == 200000
    assert price("claude-4.5-opus", "anthropic")["output"] == 25.00


# ---------------------------------------------------------------- parameter rules (params.yaml)

PROFILE_KEYS = {
    "description",
    "rename",
    "default_only",
    "unsupported",
    "ranges",
    "one_of",
    "sampling_effort",
    "default_effort",
}


def test_param_profiles_and_references(models):
    profiles = _load("params.yaml")["profiles"]
    for name, p in profiles.items():
        assert set(p) <= PROFILE_KEYS, f"{name}: unknown keys {set(p) - PROFILE_KEYS}"
        assert isinstance(p.get("description"), str) and p["description"], f"{name}: needs a description"
        for lo_hi in (p.get("ranges") or {}).values():
            assert len(lo_hi) == 2 and _is_number(lo_hi[0]) and _is_number(lo_hi[1]) and lo_hi[0] < lo_hi[1]
    for mid, m in models.items():
        assert m.get("params") in (None, *profiles), f"{mid}: unknown params profile {m.get('params')!r}"
        assert m.get("structured_output") in (None, "native", "tool"), mid
        for pid, ep in m["endpoints"].items():
            assert ep.get("params") in (None, "none", *profiles), f"{mid}/{pid}: unknown params profile"
            assert ep.get("structured_output") in (None, "native", "tool"), f"{mid}/{pid}"
        if m["author"] == "anthropic":
            assert m.get("params", "").startswith("claude"), (
                f"{mid}: every Claude model has Claude's sampling rules"
            )
