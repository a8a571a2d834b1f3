"""Operator-defined model aliases (`models.aliases` in the configuration). Pure.

An alias names any model string the planner accepts, a fallback chain included:

    models:
      aliases: {my-gpt: "gpt-4o-mini/openai", smart: "claude-sonnet-4, gpt-4o/openai"}

Each comma-separated item of a request's `model` that is exactly an alias is replaced by the alias's value before
Helicone's grammar runs, so `my-gpt, claude-3-5-haiku` is a chain of the alias's target and then Claude. Aliases
expand once (an alias's value naming another alias is refused when the configuration loads: `config/models.py`), so no cycle can
exist. A key's model allow-list applies to what an alias expands to, never to the alias's own name.
"""

from __future__ import annotations

from collections.abc import Mapping


def expand(model_field: str, aliases: Mapping[str, str]) -> str:
    """`model_field` with every item that is an alias replaced by its value (unchanged when none is)."""
    if not aliases:
        return model_field
    items = model_field.split(",")
    hit = False
    for i, raw in enumerate(items):
        target = aliases.get(raw.strip())
        if target is not None:
            items[i] = target
            hit = True
    return ",".join(items) if hit else model_field
