"""`Helicone-Model-Override`: the model a request is recorded and priced as when the upstream's name differs. Pure.

Helicone uses the header as "the model name used for cost and token estimation when it can't be read from the body"
(a custom deployment name, a fine-tune served under another id). Here:

- the log row's `model` is the override's name (so the dashboard and the query API group it as the caller asked);
- the cost comes from the override's registry price **only when the answering attempt has no price of its own**
  (a name the registry lacks, passed through). An attempt the registry prices keeps its own price: a caller must
  not be able to call gpt-4o, say "gpt-4o-mini", and be charged (credits, USD budgets) a sixteenth of the cost;
- the override's context window is the one `Helicone-Token-Limit-Exception-Handler` uses (token_limit.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..providers.registry import Endpoint, ModelInfo, Registry

HEADER = "helicone-model-override"
_MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class ModelOverride:
    name: str
    model: ModelInfo | None  # None: a name the registry does not know (recorded, never priced)

    def endpoint(self, provider: str) -> Endpoint | None:
        """The override's endpoint on the answering provider, else its cheapest priced endpoint anywhere."""
        if self.model is None:
            return None
        own = self.model.endpoints.get(provider)
        if own is not None and own.price is not None:
            return own
        priced = [e for e in self.model.endpoints.values() if e.price is not None]
        return min(priced, key=lambda e: e.price.input + e.price.output) if priced else own  # type: ignore[union-attr]

    @property
    def context(self) -> int | None:
        if self.model is None:
            return None
        return (
            self.model.context
            or max((e.context or 0 for e in self.model.endpoints.values()), default=0)
            or None
        )


def model_override(headers: dict[str, str], registry: Registry) -> ModelOverride | None:
    raw = headers.get(HEADER)
    if raw is None or not (raw := raw.strip()):
        return None
    name = raw[:_MAX_NAME]
    return ModelOverride(name, registry.model(name))


def priced_endpoint(override: ModelOverride | None, provider: str, own: Endpoint | None) -> Endpoint | None:
    """The endpoint whose price a settled attempt is charged at: its own when priced, else the override's."""
    if own is not None and own.price is not None:
        return own
    if override is None:
        return own
    return override.endpoint(provider) or own
