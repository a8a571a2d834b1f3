"""Model string → ordered attempts. Pure: reads the registry, does no I/O.

Grammar (Helicone's):
    model_field := item ("," item)*
    item        := "!" provider                      global exclusion, applies to every spec
                 | model ["/" provider ["/" key_id]]
A spec's last segment is a provider when the registry knows it; otherwise the whole spec is a model name
(so OpenRouter-style ids like `openai/gpt-4o-mini` still work as names). A bare model fans out to every
provider that serves it and has a key, cheapest first, then by provider tier. `model/provider` for a model the
registry lacks passes the name through verbatim (custom and self-hosted deployments, fine-tunes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import GatewayError
from ..providers.base import Target
from ..providers.registry import Endpoint, ModelInfo, ProviderInfo, Registry

_MAX_PLAN_CACHE = 4096


@dataclass(frozen=True, slots=True)
class Spec:
    model: str
    provider: str | None = None
    key_id: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedModel:
    specs: tuple[Spec, ...]
    excluded: frozenset[str]


@dataclass(frozen=True, slots=True)
class Attempt:
    provider: ProviderInfo
    model: ModelInfo | None  # None: passthrough of a name the registry does not know
    endpoint: Endpoint | None
    provider_model_id: str
    target: Target = field(compare=False)

    @property
    def source(self) -> str:
        name = self.model.id if self.model else self.provider_model_id
        return f"{name}/{self.provider.id}"


def _err(message: str, code: str = "invalid_model") -> GatewayError:
    return GatewayError(400, message, code=code, param="model")


def parse_model_field(value: str, registry: Registry) -> ParsedModel:
    specs: list[Spec] = []
    excluded: set[str] = set()
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        if item.startswith("!"):
            name = item[1:].strip()
            if not name:
                raise _err("Invalid exclusion syntax: use !provider (e.g. !openai).")
            p = registry.provider(name)
            if p is None:
                raise _err(f"Unknown provider in exclusion: {name}. Valid providers: {', '.join(sorted(registry.providers))}.")
            excluded.add(p.id)
            continue
        specs.append(_spec(item, registry))
    if not specs:
        raise _err("The model field names no model. Example: \"gpt-4o-mini\" or \"claude-sonnet-4/anthropic\".")
    return ParsedModel(tuple(specs), frozenset(excluded))


def _spec(item: str, registry: Registry) -> Spec:
    parts = item.split("/")
    if len(parts) >= 2 and registry.provider(parts[-1]) is not None and parts[0]:
        return Spec("/".join(parts[:-1]), registry.provider(parts[-1]).id)  # type: ignore[union-attr]
    if len(parts) >= 3 and registry.provider(parts[-2]) is not None:
        return Spec("/".join(parts[:-2]), registry.provider(parts[-2]).id, parts[-1])  # type: ignore[union-attr]
    return Spec(item)


def _target(p: ProviderInfo, provider_model_id: str, endpoint: Endpoint | None) -> Target:
    config = dict(p.config)
    if endpoint is not None and endpoint.max_output:
        config["max_output"] = endpoint.max_output
    return Target(
        provider=p.id, model=provider_model_id, format=p.format, base_url=p.base_url or "",
        api_key=p.api_key, auth=p.auth, config=config, headers=p.headers,
    )


def _sort_key(ep: Endpoint, p: ProviderInfo) -> tuple[float, int, str]:
    price = ep.price.input + ep.price.output if ep.price else float("inf")
    return (price, p.priority, p.id)


class Planner:
    """Builds and caches plans per model string. The cache is safe because plans depend only on the registry."""

    def __init__(self, registry: Registry, formats: frozenset[str] | None = None) -> None:
        self.registry = registry
        self.formats = formats  # wire formats this build can speak; None = all
        self._cache: dict[str, list[Attempt]] = {}

    def plan(self, model_field: str) -> list[Attempt]:
        cached = self._cache.get(model_field)
        if cached is not None:
            return cached
        attempts = self._build(model_field)
        if len(self._cache) >= _MAX_PLAN_CACHE:
            self._cache.clear()
        self._cache[model_field] = attempts
        return attempts

    def _build(self, model_field: str) -> list[Attempt]:
        reg = self.registry
        parsed = parse_model_field(model_field, reg)
        attempts: list[Attempt] = []
        keyless: list[ProviderInfo] = []
        unsupported: list[ProviderInfo] = []
        for spec in parsed.specs:
            info = reg.model(spec.model)
            if spec.provider is not None:
                p = reg.providers[spec.provider]
                if p.id in parsed.excluded:
                    continue
                ep = info.endpoints.get(p.id) if info else None
                candidates = [(p, ep, ep.provider_model_id if ep else spec.model, info if ep else None)]
            else:
                if info is None:
                    raise _err(
                        f"Unknown model: {spec.model}. Name a provider (e.g. {spec.model}/openai) or use a model "
                        "listed by GET /v1/models.",
                        code="model_not_found",
                    )
                eps = sorted(
                    (ep for ep in info.endpoints.values() if ep.provider not in parsed.excluded),
                    key=lambda ep: _sort_key(ep, reg.providers[ep.provider]),
                )
                candidates = [(reg.providers[ep.provider], ep, ep.provider_model_id, info) for ep in eps]
            for p, ep, pmid, minfo in candidates:
                if self.formats is not None and p.format not in self.formats:
                    unsupported.append(p)
                    continue
                if (p.needs_key and not p.api_key) or p.missing_setting():
                    keyless.append(p)
                    continue
                if p.format == "openai" and not p.base_url:
                    continue
                attempts.append(Attempt(p, minfo, ep, pmid, _target(p, pmid, ep)))
        if not attempts:
            if unsupported and not keyless:
                names = ", ".join(sorted({f"{p.id} ({p.format})" for p in unsupported}))
                raise _err(f"No supported provider for {model_field!r}: the wire format of {names} is not available yet.",
                           code="provider_unsupported")
            if keyless:
                unique = {p.id: p for p in keyless}.values()
                hints = "; ".join(
                    f"for {p.id}, {p.missing_key_hint() if p.needs_key and not p.api_key else p.missing_setting()}"
                    for p in unique
                )
                raise GatewayError(
                    400, f"No provider key is configured for {model_field!r}: {hints}.",
                    code="provider_key_missing", param="model",
                )
            raise _err(
                f"No available providers for {model_field!r} (all excluded or unsupported). "
                "Check the provider names and the models listed by GET /v1/models.",
                code="no_providers",
            )
        return attempts
