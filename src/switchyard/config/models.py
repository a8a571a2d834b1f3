"""Operator-defined models: prices and windows of deployments the registry lacks, and model aliases."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ConfigDict, Field, field_validator

from .base import Strict


class DeploymentPrice(Strict):
    """USD per 1M tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)
    cache_write: float | None = Field(None, ge=0)


class DeploymentSettings(Strict):
    price: DeploymentPrice | None = None
    context: int | None = Field(None, ge=1)
    max_output: int | None = Field(None, ge=1)


class ModelSettings(Strict):
    # "<model>/<provider>" → price (and window) of a model the registry lacks (a fine-tune, a custom deployment),
    # or an override of a registry endpoint's price. Priced calls are logged with a cost and can run under budgets.
    deployments: dict[str, DeploymentSettings] = Field(default_factory=dict)
    # name → any model string (a chain included), expanded by the planner before Helicone's grammar.
    aliases: dict[str, str] = Field(default_factory=dict)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: dict[str, str]) -> dict[str, str]:
        check_aliases(v)
        return v

    @field_validator("deployments")
    @classmethod
    def _names(cls, v: dict[str, DeploymentSettings]) -> dict[str, DeploymentSettings]:
        for name in v:
            model, _, provider = name.rpartition("/")
            if not model.strip() or not provider.strip() or "," in name:
                raise ValueError(f"'{name}' must be '<model>/<provider>' (e.g. my-deployment/openai)")
        return v


def check_aliases(aliases: Mapping[str, str]) -> None:
    """Raise ValueError for an alias the planner (`pipeline/aliases.py`) could never use (empty, a chain or provider in its name, or a
    value that names another alias)."""
    for name, value in aliases.items():
        if not name.strip() or name != name.strip() or "," in name or name.startswith("!"):
            raise ValueError(
                f"alias {name!r}: a name is one model name, without commas or surrounding spaces"
            )
        if not value.strip():
            raise ValueError(f"alias {name!r}: the value must name a model (e.g. gpt-4o-mini/openai)")
        for item in value.split(","):
            if item.strip() in aliases:
                raise ValueError(
                    f"alias {name!r}: its value names the alias {item.strip()!r}; aliases expand once"
                )
