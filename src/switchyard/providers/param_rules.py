"""Per-model parameter rules: what a model's API refuses, and what the gateway sends instead. Pure.

The rules are registry data (`registry/params.yaml` profiles, named by a model's `params` in `models.yaml`); the
output ceiling is the endpoint's `max_output`. `fit` applies both to one request body in the wire format the
upstream will receive it in, on every path (native passthrough and translated alike), and says what it changed
in short notes that the log row keeps (`attempts[].adjustments`):

- `rename` (Chat Completions only): `max_tokens` → `max_completion_tokens` for OpenAI reasoning models, which
  refuse `max_tokens` ("Use 'max_completion_tokens' instead").
- `default_only`: parameters the model accepts only at their default (reasoning models: `temperature` 1,
  `top_p` 1, penalties 0); any other value is dropped. `sampling_effort` lifts this when the request's
  reasoning effort is that value (GPT-5.1 with `reasoning_effort: "none"` takes sampling parameters).
- `unsupported`: dropped whatever their value.
- `ranges`: numbers clamped into `[lo, hi]` (Claude's temperature 0..1, where OpenAI callers may send up to 2).
- `one_of`: at most one of these (Claude 4.5 and later refuse `temperature` together with `top_p`); the first
  one present is kept.
- the ceiling: `max_tokens` / `max_completion_tokens` / `max_output_tokens` above the model's maximum output
  are clamped to it (on Anthropic's Messages format a thinking budget that no longer fits shrinks with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from . import claude_rules as claude

# Output-token fields per wire format (kind of body): "chat" is OpenAI Chat Completions (also the lingua franca
# every translator reads), "messages" Anthropic Messages, "responses" OpenAI Responses, "completions" legacy.
TOKEN_FIELDS: Mapping[str, tuple[str, ...]] = {
    "chat": ("max_completion_tokens", "max_tokens"),
    "messages": ("max_tokens",),
    "responses": ("max_output_tokens",),
    "completions": ("max_tokens",),
}


@dataclass(frozen=True, slots=True)
class ParamRules:
    profile: str
    rename: Mapping[str, str] = field(default_factory=dict)
    default_only: Mapping[str, Any] = field(default_factory=dict)
    unsupported: tuple[str, ...] = ()
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    one_of: tuple[str, ...] = ()
    sampling_effort: str | None = None  # default_only does not apply at this reasoning effort
    default_effort: str | None = None  # the model's reasoning effort when the request names none
    description: str = ""


def rules_from(profile: str, raw: Mapping[str, Any]) -> ParamRules:
    """A profile of `registry/params.yaml` as rules (the loader checks the names; this only converts)."""
    return ParamRules(
        profile=profile,
        rename=dict(raw.get("rename") or {}),
        default_only=dict(raw.get("default_only") or {}),
        unsupported=tuple(raw.get("unsupported") or ()),
        ranges={k: (float(v[0]), float(v[1])) for k, v in (raw.get("ranges") or {}).items()},
        one_of=tuple(raw.get("one_of") or ()),
        sampling_effort=raw.get("sampling_effort"),
        default_effort=raw.get("default_effort"),
        description=str(raw.get("description") or ""),
    )


def fit(
    body: dict[str, Any], kind: str, rules: ParamRules | None, max_output: int | None
) -> tuple[dict[str, Any], list[str]]:
    """`body` as the model accepts it, and what was changed. The caller's dict is never mutated: a changed body is
    a shallow copy, an unchanged one is returned as is."""
    notes: list[str] = []
    out = body
    if rules is not None:
        out = _apply_rules(body, kind, rules, notes)
    if max_output:
        out = _clamp(out, kind, max_output, notes)
    return out, notes


def _apply_rules(body: dict[str, Any], kind: str, rules: ParamRules, notes: list[str]) -> dict[str, Any]:
    out = dict(body)
    if kind == "chat":
        for old, new in rules.rename.items():
            if old not in out:
                continue
            value = out.pop(old)
            if value is None:
                continue
            if out.get(new) is None:
                out[new] = value
                notes.append(f"{old}→{new}")
            else:
                notes.append(f"{old} dropped ({new} given)")
    if rules.sampling_effort is None or _effort(out, kind, rules.default_effort) != rules.sampling_effort:
        for name, default in rules.default_only.items():
            value = out.get(name)
            if value is not None and value != default:
                del out[name]
                notes.append(f"{name} dropped ({name}={value!r}; the model takes only {default!r})")
    for name in rules.unsupported:
        if out.get(name) is not None:
            del out[name]
            notes.append(f"{name} dropped (not supported by the model)")
    for name, (lo, hi) in rules.ranges.items():
        value = out.get(name)
        if _number(value) and not lo <= value <= hi:
            clamped = _tidy(min(hi, max(lo, value)))
            out[name] = clamped
            notes.append(f"{name} {value!r}→{clamped!r} (range {_tidy(lo)}..{_tidy(hi)})")
    present = [name for name in rules.one_of if out.get(name) is not None]
    for name in present[1:]:
        del out[name]
        notes.append(f"{name} dropped (the model takes {present[0]} or {name}, not both)")
    return out if notes else body


def _clamp(body: dict[str, Any], kind: str, cap: int, notes: list[str]) -> dict[str, Any]:
    out = body
    for name in TOKEN_FIELDS.get(kind, ()):
        value = out.get(name)
        if _number(value) and value > cap:
            if out is body:
                out = dict(body)
            out[name] = cap
            notes.append(f"{name} clamped {value}→{cap} (the model's maximum output)")
    if kind == "messages" and out is not body and isinstance(out.get("thinking"), dict):
        thinking = claude.shrink_to_cap(out["thinking"], cap)
        if thinking is None:
            del out["thinking"]
            notes.append("thinking dropped (no budget fits under the maximum output)")
        elif thinking != out["thinking"]:
            notes.append(
                f"thinking.budget_tokens {out['thinking']['budget_tokens']}→{thinking['budget_tokens']}"
            )
            out["thinking"] = thinking
    return out


def _effort(body: dict[str, Any], kind: str, default: str | None) -> str | None:
    if kind == "responses":
        reasoning = body.get("reasoning")
        effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    else:
        effort = body.get("reasoning_effort")
    return effort if isinstance(effort, str) else default


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tidy(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
