"""Model string → ordered attempts. Pure: reads the registry, does no I/O.

Grammar (Helicone's):
    model_field := item ("," item)*
    item        := "!" provider                      global exclusion, applies to every spec
                 | model ["/" provider ["/" key_id]]
A spec's last segment is a provider when the registry knows it; otherwise the whole spec is a model name
(so OpenRouter-style ids like `openai/gpt-4o-mini` still work as names). `model/provider` for a model the
registry lacks passes the name through verbatim (custom and self-hosted deployments, fine-tunes).

Attempt order (static part; `order.py` adds live health at request time):
- items of a fallback chain keep the caller's order;
- within an item, the organisation's own keys (BYOK) come first, then the gateway's configured keys (PTB);
- within each of those, cheapest endpoint first (input + output price per 1M tokens), then provider tier;
- `model/provider/<key-id>` names exactly one BYOK key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import GatewayError
from ..providers.base import Target
from ..providers.registry import Endpoint, ModelInfo, ProviderInfo, Registry
from .aliases import expand
from .keyring import EMPTY, Keyring, OrgKey

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
    auth: str = "ptb"  # "byok": the organisation's key; "ptb": the gateway's configured key
    key_id: str | None = None  # the BYOK key's id
    group: int = 0  # index of the chain item this attempt came from
    rank: int = 0  # static order within its group and auth kind (price, tier); equal ranks share one endpoint
    org_id: str = ""  # the organisation owning the BYOK key (key ids are only unique within one organisation)

    @property
    def route(self) -> str:
        """`model/provider`, as a caller would write it."""
        return f"{self.model.id if self.model else self.provider_model_id}/{self.provider.id}"

    @property
    def source(self) -> str:
        """Helicone's attempt source: `model/provider/byok|ptb[/key-id]`."""
        name = self.model.id if self.model else self.provider_model_id
        tail = f"/{self.key_id}" if self.key_id else ""
        return f"{name}/{self.provider.id}/{self.auth}{tail}"

    @property
    def endpoint_id(self) -> str:
        """The circuit breaker's unit: one provider with one key (never the key itself). A BYOK key is named by
        its organisation and id (`openai:byok:<org>:<key id>`): two organisations may both call a key `main`,
        and one's broken key must not eject the other's."""
        return (
            f"{self.provider.id}:byok:{self.org_id}:{self.key_id}"
            if self.key_id
            else f"{self.provider.id}:ptb"
        )

    @property
    def context(self) -> int | None:
        return (self.endpoint.context if self.endpoint else None) or (
            self.model.context if self.model else None
        )


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
                raise _err(
                    f"Unknown provider in exclusion: {name}. Valid providers: {', '.join(sorted(registry.providers))}."
                )
            excluded.add(p.id)
            continue
        specs.append(_spec(item, registry))
    if not specs:
        raise _err('The model field names no model. Example: "gpt-4o-mini" or "claude-sonnet-4/anthropic".')
    return ParsedModel(tuple(specs), frozenset(excluded))


_HELICONE_PREFIX = "helicone/"


def _spec(item: str, registry: Registry) -> Spec:
    # LiteLLM's provider route `helicone/<model string>`: a client that forwards the whole name (instead of
    # stripping its provider prefix as LiteLLM does) still means the model string after it.
    if item[: len(_HELICONE_PREFIX)].lower() == _HELICONE_PREFIX and len(item) > len(_HELICONE_PREFIX):
        item = item[len(_HELICONE_PREFIX) :]
    parts = item.split("/")
    if len(parts) >= 2 and registry.provider(parts[-1]) is not None and parts[0]:
        return Spec("/".join(parts[:-1]), registry.provider(parts[-1]).id)  # type: ignore[union-attr]
    if len(parts) >= 3 and registry.provider(parts[-2]) is not None:
        return Spec("/".join(parts[:-2]), registry.provider(parts[-2]).id, parts[-1])  # type: ignore[union-attr]
    return Spec(item)


def _target(
    p: ProviderInfo, provider_model_id: str, endpoint: Endpoint | None, key: OrgKey | None = None
) -> Target:
    config = dict(p.config)
    if endpoint is not None and endpoint.max_output:
        config["max_output"] = endpoint.max_output
    if endpoint is not None and endpoint.structured_output and "json_schema_mode" not in config:
        config["json_schema_mode"] = (
            endpoint.structured_output
        )  # the registry's capability; operator config wins
    if key is None:
        return Target(
            provider=p.id,
            model=provider_model_id,
            format=p.format,
            base_url=p.base_url or "",
            api_key=p.api_key,
            auth=p.auth,
            config=config,
            headers=p.headers,
        )
    # BYOK: the organisation's key and its own settings (region, deployment, ...) over the provider defaults;
    # the gateway's own credentials for this provider must not leak into the organisation's calls.
    for secret in (
        "secret",
        "secret_key",
        "secret_access_key",
        "session_token",
        "access_token",
        "credentials_file",
    ):
        config.pop(secret, None)
    config.update(key.config)
    return Target(
        provider=p.id,
        model=provider_model_id,
        format=p.format,
        base_url=key.base_url or p.base_url or "",
        api_key=key.api_key,
        auth=key.auth or p.auth,
        config=config,
        headers=p.headers,
        egress=key.policy.egress(p.id, p.format, p.base_url),
    )


def _sort_key(ep: Endpoint, p: ProviderInfo) -> tuple[float, int, str]:
    price = ep.price.input + ep.price.output if ep.price else float("inf")
    return (price, p.priority, p.id)


class Planner:
    """Builds and caches plans per model string. The cache is safe because plans depend only on the registry."""

    def __init__(
        self,
        registry: Registry,
        formats: frozenset[str] | None = None,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.registry = registry
        self.formats = formats  # wire formats this build can speak; None = all
        self.aliases = dict(aliases or {})  # models.aliases (pipeline/aliases.py)
        self._cache: dict[str | tuple[str, str, int], list[Attempt]] = {}

    def plan(self, model_field: str, ring: Keyring = EMPTY) -> list[Attempt]:
        """The static attempt list for a model string and an organisation's BYOK keys (cached per both)."""
        key: str | tuple[str, str, int] = (
            model_field if not ring.by_provider else (model_field, ring.org_id, ring.version)
        )
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        attempts = self._build(model_field, ring)
        if len(self._cache) >= _MAX_PLAN_CACHE:
            self._cache.clear()
        self._cache[key] = attempts
        return attempts

    def plan_once(self, model_field: str, ring: Keyring) -> list[Attempt]:
        """A plan that is never cached (a keyring made for one request: pipeline/caller_keys.py)."""
        return self._build(model_field, ring)

    def _build(self, model_field: str, ring: Keyring) -> list[Attempt]:
        reg = self.registry
        parsed = parse_model_field(expand(model_field, self.aliases), reg)
        attempts: list[Attempt] = []
        keyless: list[ProviderInfo] = []
        unsupported: list[ProviderInfo] = []
        for group, spec in enumerate(parsed.specs):
            info = reg.model(spec.model)
            if spec.provider is not None:
                p = reg.providers[spec.provider]
                if p.id in parsed.excluded:
                    continue
                ep = info.endpoints.get(p.id) if info else None
                pmid = ep.provider_model_id if ep else spec.model
                if spec.key_id is not None:
                    key = ring.get(p.id, spec.key_id)
                    if key is None:
                        raise GatewayError(
                            400,
                            f"No enabled {p.id} key with id {spec.key_id!r} in your organisation "
                            f"(model {spec.model}/{p.id}/{spec.key_id}). List them with GET /admin/v1/orgs/<org>/provider-keys.",
                            code="provider_key_not_found",
                            param="model",
                        )
                    if self.formats is not None and p.format not in self.formats:
                        unsupported.append(p)
                        continue
                    attempts.append(
                        Attempt(
                            p,
                            info if ep else None,
                            ep,
                            pmid,
                            _target(p, pmid, ep, key),
                            auth="byok",
                            key_id=key.id,
                            group=group,
                            org_id=ring.org_id,
                        )
                    )
                    continue
                candidates = [(p, ep, pmid, info if ep else None)]
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
            byok: list[Attempt] = []
            ptb: list[Attempt] = []
            for rank, (p, ep, pmid, minfo) in enumerate(candidates):
                if self.formats is not None and p.format not in self.formats:
                    unsupported.append(p)
                    continue
                for key in ring.by_provider.get(p.id, ()):
                    byok.append(
                        Attempt(
                            p,
                            minfo,
                            ep,
                            pmid,
                            _target(p, pmid, ep, key),
                            auth="byok",
                            key_id=key.id,
                            group=group,
                            rank=rank,
                            org_id=ring.org_id,
                        )
                    )
                if (p.needs_key and not p.api_key) or p.missing_setting():
                    if not ring.by_provider.get(p.id):
                        keyless.append(p)
                    continue
                if p.format == "openai" and not p.base_url:
                    continue
                ptb.append(Attempt(p, minfo, ep, pmid, _target(p, pmid, ep), group=group, rank=rank))
            attempts.extend(byok)
            attempts.extend(ptb)
        if not attempts:
            if unsupported and not keyless:
                names = ", ".join(sorted({f"{p.id} ({p.format})" for p in unsupported}))
                raise _err(
                    f"No supported provider for {model_field!r}: the wire format of {names} is not available yet.",
                    code="provider_unsupported",
                )
            if keyless:
                unique = {p.id: p for p in keyless}.values()
                hints = "; ".join(
                    f"for {p.id}, {p.missing_key_hint() if p.needs_key and not p.api_key else p.missing_setting()}"
                    for p in unique
                )
                raise GatewayError(
                    400,
                    f"No provider key is configured for {model_field!r}: {hints}.",
                    code="provider_key_missing",
                    param="model",
                )
            raise _err(
                f"No available providers for {model_field!r} (all excluded or unsupported). "
                "Check the provider names and the models listed by GET /v1/models.",
                code="no_providers",
            )
        return attempts


def restrict(attempts: list[Attempt], allowed: tuple[str, ...]) -> list[Attempt]:
    """The attempts a gateway key may use: its allow-list names registry models (`gpt-4o-mini`, any provider) or
    `model/provider` pairs. An empty list allows everything. Nothing left → 403 naming what is allowed."""
    if not allowed:
        return attempts
    kept = [a for a in attempts if _allowed(a, allowed)]
    if not kept:
        raise GatewayError(
            403,
            f"This gateway key may not use {attempts[0].route if len(attempts) == 1 else 'these models'}"
            f"; it is limited to: {', '.join(allowed)}.",
            code="model_not_allowed",
            param="model",
        )
    return kept


def _allowed(a: Attempt, allowed: tuple[str, ...]) -> bool:
    names: tuple[str, ...] = (a.model.id,) if a.model else ()
    names += (a.provider_model_id,)
    for entry in allowed:
        if "/" in entry:
            if entry == a.route or entry == f"{a.provider_model_id}/{a.provider.id}":
                return True
        elif entry in names:
            return True
    return False
