"""What OpenAI's Chat Completions and Responses APIs refuse, for the mock upstreams (see anthropic_rules.py).

Reasoning models (o-series, GPT-5 except the chat snapshots) refuse `max_tokens` ("Use 'max_completion_tokens'
instead") and take `temperature`, `top_p` and the penalties only at their defaults; GPT-5.1 takes sampling
parameters at reasoning effort "none" (its default). Every model refuses an output limit above its maximum.
`refusal(path, body)` answers (message, param, code) of the first rule the body breaks, or None.
"""

from __future__ import annotations

from typing import Any

# model id prefix -> maximum output tokens (OpenAI's model pages); longest prefix wins, unknown ids are not checked
CEILINGS = {
    "gpt-4o": 16384,
    "gpt-4o-mini": 16384,
    "gpt-4.1": 32768,
    "gpt-5": 128000,
    "gpt-5-chat": 16384,
    "o3": 100000,
    "o4-mini": 100000,
    "gpt-3.5-turbo": 4096,
}
DEFAULTS = {"temperature": 1, "top_p": 1, "presence_penalty": 0, "frequency_penalty": 0}


def is_reasoning(model: Any) -> bool:
    return isinstance(model, str) and (
        model.startswith(("o1", "o3", "o4"))
        or (model.startswith("gpt-5") and not model.startswith("gpt-5-chat"))
    )


def refusal(path: str, body: Any) -> tuple[str, str | None, str] | None:
    if not isinstance(body, dict):
        return None
    model = body.get("model")
    responses = path.endswith("/responses")
    if is_reasoning(model):
        if not responses and body.get("max_tokens") is not None:
            return (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            )
        effort = (body.get("reasoning") or {}).get("effort") if responses else body.get("reasoning_effort")
        if not (str(model).startswith("gpt-5.1") and (effort or "none") == "none"):
            for name, default in DEFAULTS.items():
                value = body.get(name)
                if value is not None and value != default:
                    return (
                        f"Unsupported value: '{name}' does not support {value} with this model. Only the "
                        f"default ({default}) value is supported.",
                        name,
                        "unsupported_value",
                    )
    return _ceiling(model, body, responses)


def _ceiling(model: Any, body: dict[str, Any], responses: bool) -> tuple[str, str | None, str] | None:
    if not isinstance(model, str):
        return None
    best = max((p for p in CEILINGS if model.startswith(p)), key=len, default=None)
    if best is None:
        return None
    ceiling = CEILINGS[best]
    for name in ("max_output_tokens",) if responses else ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and value > ceiling:
            return (
                f"max_tokens is too large: {value}. This model supports at most {ceiling} completion tokens, "
                f"whereas you provided {value}.",
                name,
                "invalid_value",
            )
    return None
