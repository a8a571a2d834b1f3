"""The model and provider registry: data files (`registry/*.yaml`) merged with the configuration.

Built once at start-up into frozen values; the hot path only does dict lookups.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson
import yaml

from ..config import DeploymentSettings, ProviderSettings, Settings
from .formats import provider_class
from .param_rules import ParamRules, rules_from
from .price_schedule import Price, PriceChange, PriceError, PriceWindow, dated_prices, read_price

# Names users type for providers that the registry knows under another id.
PROVIDER_ALIASES = {
    "google": "google-ai-studio",
    "gemini": "google-ai-studio",
    "azure-openai": "azure",
    "aws": "bedrock",
    "amazon-bedrock": "bedrock",
    "vertex-ai": "vertex",
    "together-ai": "together",
    "x-ai": "xai",
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    model: str  # registry model id
    provider: str
    provider_model_id: str
    price: Price | None
    price_note: str | None = None
    tiers: tuple[Price, ...] = ()
    context: int | None = None
    max_output: int | None = None
    completions: bool = False
    rules: ParamRules | None = None  # what the model refuses and what is sent instead (registry/params.yaml)
    structured_output: str | None = (
        None  # native | tool: json_schema to Claude (None: the translator's default)
    )
    price_changes: tuple[PriceChange, ...] = ()  # scheduled, not yet in force when loaded (observe/cost.py)
    price_windows: tuple[PriceWindow, ...] = ()  # time-of-day prices over `price` (observe/cost.py)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    author: str
    name: str
    created: int  # unix seconds
    context: int | None
    max_output: int | None
    kind: str  # chat | embedding
    aliases: tuple[str, ...]
    endpoints: Mapping[str, Endpoint]


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: str
    format: str
    base_url: str | None
    auth: str
    key_env: tuple[str, ...]
    api_key: str | None  # the gateway's own key for this provider (config, else environment)
    priority: int = 4
    completions: bool = False
    embeddings: bool = False
    responses: bool = False
    custom: bool = False  # added by configuration: accepts any model name verbatim
    headers: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def needs_key(self) -> bool:
        return self.auth != "none"

    def missing_setting(self) -> str | None:
        """What must still be configured before this provider can be called (besides its key), if anything: its
        wire format's class says (`Provider.missing_setting`)."""
        return provider_class(self.format).missing_setting(self.id, self.base_url, self.config)

    def missing_key_hint(self) -> str:
        if self.key_env:
            names = " or ".join(self.key_env)
            return f"set {names} in the gateway's environment, or providers.{self.id}.api_key in its config"
        return f"set providers.{self.id}.api_key in the gateway's config"


class RegistryError(ValueError):
    pass


def _created(v: Any) -> int:
    if isinstance(v, dt.date):
        return int(dt.datetime(v.year, v.month, v.day, tzinfo=dt.UTC).timestamp())
    if isinstance(v, str):
        d = dt.date.fromisoformat(v)
        return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp())
    return 1704067200  # 2024-01-01, Helicone's default when a date is unknown


class Registry:
    def __init__(self, providers: Mapping[str, ProviderInfo], models: Mapping[str, ModelInfo]) -> None:
        self.providers = dict(providers)
        self.models = dict(models)
        self._names: dict[str, ModelInfo] = {}
        for m in models.values():
            self._names[m.id] = m
            self._names[m.id.lower()] = m
        for m in models.values():
            for a in m.aliases:
                self._names.setdefault(a, m)
                self._names.setdefault(a.lower(), m)
        # provider model ids resolve too (e.g. "claude-sonnet-4-20250514"), lowest priority
        for m in models.values():
            for ep in m.endpoints.values():
                self._names.setdefault(ep.provider_model_id, m)

    def model(self, name: str) -> ModelInfo | None:
        return self._names.get(name) or self._names.get(name.lower())

    def provider(self, name: str) -> ProviderInfo | None:
        p = self.providers.get(name)
        if p is None:
            p = self.providers.get(PROVIDER_ALIASES.get(name.lower(), name.lower()))
        return p


# libyaml's safe loader when PyYAML was built with it: the same types as yaml.safe_load, ~10x faster (models.yaml:
# 0.06 s instead of 0.66 s of every start-up).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(name: str) -> Any:
    return yaml.load(resources.files("switchyard.registry").joinpath(name).read_text(), Loader=_YAML_LOADER)


def _raw_models() -> dict[str, Any]:
    """models.yaml (hand-checked) and then models_generated.json (registry/generate.py, from the pinned price
    datasets); a generated id never replaces a hand-checked one."""
    models: dict[str, Any] = dict((_read_yaml("models.yaml") or {}).get("models", {}))
    generated = resources.files("switchyard.registry").joinpath("models_generated.json")
    if generated.is_file():
        for mid, raw in orjson.loads(generated.read_bytes()).get("models", {}).items():
            models.setdefault(mid, raw)
    return models


def load_registry(settings: Settings, env: Mapping[str, str] | None = None) -> Registry:
    env = os.environ if env is None else env
    raw_providers: dict[str, Any] = _read_yaml("providers.yaml") or {}
    raw_models = _raw_models()
    profiles = {
        name: rules_from(name, raw)
        for name, raw in ((_read_yaml("params.yaml") or {}).get("profiles") or {}).items()
    }

    providers: dict[str, ProviderInfo] = {}
    for pid, raw in raw_providers.items():
        providers[pid] = _provider(pid, raw, settings.providers.get(pid), env, custom=False)
    for pid, override in settings.providers.items():
        if pid in providers:
            continue
        if override.format is None:
            raise RegistryError(f"providers.{pid}: a new provider needs `format` (e.g. format: openai)")
        if override.base_url is None and provider_class(override.format).needs_base_url:
            raise RegistryError(f"providers.{pid}: a new provider needs `base_url`")
        providers[pid] = _provider(pid, {}, override, env, custom=True)

    models: dict[str, ModelInfo] = {}
    now_ms = int(time.time() * 1000)
    for mid, raw in raw_models.items():
        endpoints = {}
        for pid, ep in (raw.get("endpoints") or {}).items():
            if pid not in providers:
                raise RegistryError(f"model {mid}: unknown provider {pid}")
            try:
                price, tiers, windows, changes = dated_prices(ep, now_ms, f"model {mid} ({pid})")
            except PriceError as e:
                raise RegistryError(str(e)) from None
            endpoints[pid] = Endpoint(
                model=mid,
                provider=pid,
                provider_model_id=str(ep["id"]),
                price=price,
                price_note=ep.get("price_note"),
                tiers=tiers,
                price_changes=changes,
                price_windows=windows,
                context=ep.get("context") or raw.get("context"),
                max_output=ep.get("max_output") or raw.get("max_output"),
                completions=bool(ep.get("completions", False)),
                rules=_profile(profiles, ep.get("params", raw.get("params")), f"model {mid} ({pid})"),
                structured_output=ep.get("structured_output", raw.get("structured_output")),
            )
        models[mid] = ModelInfo(
            id=mid,
            author=str(raw.get("author", "unknown")),
            name=str(raw.get("name", mid)),
            created=_created(raw.get("created")),
            context=raw.get("context"),
            max_output=raw.get("max_output"),
            kind=str(raw.get("kind", "chat")),
            aliases=tuple(raw.get("aliases") or ()),
            endpoints=endpoints,
        )
    if settings.models.deployments:
        models = _with_deployments(Registry(providers, models), settings.models.deployments)
    return Registry(providers, models)


def _profile(profiles: Mapping[str, ParamRules], name: Any, where: str) -> ParamRules | None:
    if name is None or name == "none":
        return None
    if name not in profiles:
        raise RegistryError(
            f"{where}: unknown params profile {name!r} (profiles: {', '.join(sorted(profiles))})"
        )
    return profiles[name]


def _with_deployments(reg: Registry, deployments: Mapping[str, DeploymentSettings]) -> dict[str, ModelInfo]:
    """`models.deployments` from the configuration, applied over the registry's models.

    `name/provider` where the registry knows `name` and serves it on `provider`: that endpoint's price (tiers
    dropped), context and maximum output are replaced by the ones given. Where it knows `name` but not on that
    provider, or not at all: a new endpoint serving `name` verbatim, under the known model or a new one. Either
    way the name is then a registry model: routable as `name` and `name/provider`, listed by GET /v1/models,
    and priced (so logged with a cost, payable with credits, countable under USD budgets)."""
    models = dict(reg.models)
    for key, dep in deployments.items():
        name, _, pname = key.rpartition("/")
        p = reg.provider(pname)
        if p is None:
            raise RegistryError(f"models.deployments.{key}: unknown provider {pname}")
        price = read_price(dep.price.model_dump()) if dep.price is not None else None
        known = reg.model(name)
        info = models.get(known.id) if known is not None else models.get(name)
        old = info.endpoints.get(p.id) if info is not None else None
        if old is not None:
            ep = dataclasses.replace(
                old,
                price=price if price is not None else old.price,
                tiers=() if price is not None else old.tiers,
                price_changes=() if price is not None else old.price_changes,  # the operator's price wins
                price_windows=() if price is not None else old.price_windows,
                price_note=None if price is not None else old.price_note,
                context=dep.context or old.context,
                max_output=dep.max_output or old.max_output,
            )
        else:
            ep = Endpoint(
                model=info.id if info is not None else name,
                provider=p.id,
                provider_model_id=name,
                price=price,
                context=dep.context or (info.context if info is not None else None),
                max_output=dep.max_output or (info.max_output if info is not None else None),
                completions=p.completions,
                rules=_model_rules(info),
            )
        if info is None:
            info = ModelInfo(
                id=name,
                author=p.id,
                name=name,
                created=_created(None),
                context=dep.context,
                max_output=dep.max_output,
                kind="chat",
                aliases=(),
                endpoints={},
            )
        models[info.id] = dataclasses.replace(info, endpoints={**info.endpoints, p.id: ep})
    return models


def _model_rules(info: ModelInfo | None) -> ParamRules | None:
    """The parameter rules of a known model for a new endpoint of it (those of its first-party endpoint)."""
    if info is None:
        return None
    first = info.endpoints.get(info.author)
    if first is not None:
        return first.rules
    return next((ep.rules for ep in info.endpoints.values() if ep.rules is not None), None)


def _provider(
    pid: str,
    raw: Mapping[str, Any],
    override: ProviderSettings | None,
    env: Mapping[str, str],
    *,
    custom: bool,
) -> ProviderInfo:
    o = override
    key_env = tuple(raw.get("key_env") or ())
    api_key = o.api_key if o and o.api_key else None
    if api_key is None:
        api_key = next((env[k] for k in key_env if env.get(k)), None)
    auth = (o.auth if o and o.auth else None) or raw.get("auth") or "bearer"
    base_url = (o.base_url if o and o.base_url else None) or raw.get("base_url")
    return ProviderInfo(
        id=pid,
        format=(o.format if o and o.format else None) or raw.get("format", "openai"),
        base_url=base_url.rstrip("/") if base_url else None,
        auth=auth,
        key_env=key_env,
        api_key=api_key,
        priority=o.priority if o and o.priority is not None else int(raw.get("priority", 4)),
        completions=_pick(o.completions if o else None, raw.get("completions"), custom),
        embeddings=_pick(o.embeddings if o else None, raw.get("embeddings"), custom),
        responses=bool(raw.get("responses", False)),
        custom=custom,
        headers=dict(o.headers) if o else {},
        config={
            **(raw.get("options") or {}),
            **_from_env(raw.get("extra_env"), env),
            **(o.config if o else {}),
        },
    )


def _from_env(spec: Any, env: Mapping[str, str]) -> dict[str, str]:
    """`extra_env: {name: [VAR, ...]}` → {name: first set value}."""
    out: dict[str, str] = {}
    for name, names in (spec or {}).items():
        value = next((env[v] for v in names if env.get(v)), None)
        if value:
            out[name] = value
    return out


def _pick(override: bool | None, builtin: Any, default: bool) -> bool:
    if override is not None:
        return override
    if builtin is not None:
        return bool(builtin)
    return default
