"""The capability table (docs/capabilities.md), generated from the registry: which model takes which parameter, and
what the gateway does when it does not. Pure: `render(registry)` returns Markdown.

    .venv/bin/python -m switchyard.providers.capability_table > docs/capabilities.md

`tests/unit/test_capability_table.py` fails when the committed page and the registry disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

from .param_rules import ParamRules
from .registry import Endpoint, ModelInfo, Registry

INTRO = """# Model capabilities

Generated from the registry (`src/switchyard/registry/models.yaml`, `params.yaml`) by
`python -m switchyard.providers.capability_table`; do not edit by hand.

The gateway applies these rules on every path: the native passthrough (an OpenAI SDK to OpenAI, the Anthropic SDK
to Anthropic, Bedrock or Claude on Vertex) and every translation (any caller format to any provider). Whatever it
changes is listed on the request's log row, per attempt: `attempts[].adjustments` in `GET /v1/request/{id}` and
`POST /v1/request/query`, for example `["max_tokens→max_completion_tokens", "temperature dropped (temperature=0.1;
the model takes only 1)"]` or `["max_tokens clamped 128000→64000 (the model's maximum output)"]`.

- **Maximum output.** `max_tokens`, `max_completion_tokens` (Chat Completions) and `max_output_tokens` (Responses)
  above the model's maximum output on that host are clamped to it; on Anthropic's Messages format a thinking
  budget that no longer fits shrinks below it (or thinking is dropped when no budget of 1,024 fits).
- **Parameter rules.** A model's `params` profile says what its API refuses and what is sent instead (below).
- **Structured outputs.** `response_format` is passed through to OpenAI-format providers, becomes
  `responseMimeType`/`responseSchema` on Gemini, and reaches Claude either natively (`output_config.format` on
  Anthropic, `outputConfig.textFormat` on Bedrock Converse) where the model has structured outputs, or as one
  forced tool (`switchyard_json_response`) whose input is returned as JSON text in `message.content`.
  `json_object` has no Claude equivalent: it is always the forced tool with an open object schema, never dropped.
  With Claude thinking on, the tool cannot be forced (Anthropic refuses it) and is offered with `tool_choice: auto`.
- **Claude thinking** (all hosts, `providers/claude_rules.py`): off for a request that forces a tool, and for a
  tool-result turn whose tool-use turn carries no signed thinking block; `temperature`/`top_k` dropped and
  `top_p` kept within 0.95..1 while thinking is on.
"""


def render(registry: Registry) -> str:
    out = [
        INTRO,
        "## Parameter rules\n",
        "| profile | what the model refuses | what the gateway does | models |",
        "|---|---|---|---|",
    ]
    users: dict[str, list[str]] = {}
    profiles: dict[str, ParamRules] = {}
    for m in _chat_models(registry):
        for ep in m.endpoints.values():
            if ep.rules is not None:
                profiles[ep.rules.profile] = ep.rules
                if m.id not in users.setdefault(ep.rules.profile, []):
                    users[ep.rules.profile].append(m.id)
    for name in sorted(profiles):
        rules = profiles[name]
        out.append(
            f"| `{name}` | {_one_line(rules.description)} | {'; '.join(_actions(rules))} | "
            f"{', '.join(users[name])} |"
        )
    out += [
        "",
        "## Models\n",
        "Maximum output per host (`—`: none published, nothing is clamped). Endpoints without a profile take "
        "every parameter as sent.\n",
        "| model | max output | params | json_schema | json_object |",
        "|---|---|---|---|---|",
    ]
    for m in _chat_models(registry):
        eps = list(m.endpoints.values())
        cells = (
            {e.provider: _num(e.max_output) for e in eps},
            {e.provider: f"`{e.rules.profile}`" if e.rules else "—" for e in eps},
            {e.provider: _json_schema(registry, m, e) for e in eps},
            {e.provider: _json_object(registry, m, e) for e in eps},
        )
        out.append(f"| `{m.id}` | " + " | ".join(_by_endpoint(c) for c in cells) + " |")
    return "\n".join(out) + "\n"


def _chat_models(registry: Registry) -> Iterable[ModelInfo]:
    return (m for m in registry.models.values() if m.kind == "chat")


def _actions(rules: ParamRules) -> list[str]:
    acts = [f"`{a}` sent as `{b}` (Chat Completions)" for a, b in rules.rename.items()]
    if rules.default_only:
        names = ", ".join(f"`{k}`≠{_val(v)}" for k, v in rules.default_only.items())
        tail = f", except at reasoning effort `{rules.sampling_effort}`" if rules.sampling_effort else ""
        acts.append(f"drops {names}{tail}")
    if rules.unsupported:
        acts.append("drops " + ", ".join(f"`{k}`" for k in rules.unsupported))
    for k, (lo, hi) in rules.ranges.items():
        acts.append(f"clamps `{k}` into {_num(lo)}..{_num(hi)}")
    if rules.one_of:
        acts.append(f"keeps only the first of {' / '.join(f'`{k}`' for k in rules.one_of)}")
    return acts


def _family(registry: Registry, model: ModelInfo, ep: Endpoint) -> str:
    fmt = registry.providers[ep.provider].format
    if fmt == "vertex":
        return "claude" if model.author == "anthropic" else "gemini"
    if fmt == "bedrock":
        return "claude" if model.author == "anthropic" else "converse"
    return {"anthropic": "claude", "gemini": "gemini"}.get(fmt, "openai")


def _json_schema(registry: Registry, model: ModelInfo, ep: Endpoint) -> str:
    family = _family(registry, model, ep)
    if family == "openai":
        return "passed through"
    if family == "gemini":
        return "responseSchema"
    if family == "claude" and ep.structured_output == "native":
        return "native"
    return "forced tool"


def _json_object(registry: Registry, model: ModelInfo, ep: Endpoint) -> str:
    family = _family(registry, model, ep)
    if family == "openai":
        return "passed through"
    if family == "gemini":
        return "JSON mime type"
    return "forced tool"


def _by_endpoint(values: dict[str, str]) -> str:
    """One value when every endpoint agrees, else `provider: value` pairs grouped by value."""
    groups: dict[str, list[str]] = {}
    for provider, value in values.items():
        groups.setdefault(value, []).append(provider)
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{', '.join(p)}: {v}" for v, p in groups.items())


def _num(v: float | int | None) -> str:
    if v is None:
        return "—"
    return f"{int(v):,}" if float(v).is_integer() else str(v)


def _val(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def main() -> None:
    from ..config import Settings
    from .registry import load_registry

    print(render(load_registry(Settings(), env={})), end="")


if __name__ == "__main__":
    main()
