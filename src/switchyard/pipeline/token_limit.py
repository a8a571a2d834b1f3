"""`Helicone-Token-Limit-Exception-Handler`: fit a too-large chat request into its model's context. Pure.

Helicone's semantics (reference §6.5): the input is estimated (about 4 characters a token over message text and
tools) and compared with `context − requested output` (`max_completion_tokens` / `max_tokens` /
`max_output_tokens`, or 10% of the context when none is set). Over it:

- `truncate`: whitespace runs are collapsed, then every text keeps its beginning, each cut by the same ratio
  (every message keeps some text, so no role is left empty);
- `middle-out`: every text keeps its beginning and its end, the middle cut by the same ratio;
- `fallback`: `model: "primary, fallback"` is sent to the fallback; under the limit it is sent to the primary alone
  (Helicone "normalises" the model to the primary). With a single model nothing changes.

The context is the primary model's (the first item of `model`, or `Helicone-Model-Override`'s), taken from the
registry; a model without a known context is left alone (fallback too: no size is known to compare). An unknown
handler value is a 400 (Helicone ignores it; a typo should not silently send a request that will fail upstream).
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from ..errors import GatewayError
from .aliases import expand

HEADER = "helicone-token-limit-exception-handler"
HANDLERS = ("truncate", "middle-out", "fallback")
CHARS_PER_TOKEN = 4
_SPACES = re.compile(r"\s+")
_OUTPUT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def handler_of(headers: dict[str, str]) -> str | None:
    raw = headers.get(HEADER)
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value not in HANDLERS:
        raise GatewayError(
            400,
            f"Invalid Helicone-Token-Limit-Exception-Handler {raw.strip()[:40]!r}: expected one of "
            f"{', '.join(HANDLERS)}.",
            code="invalid_header",
        )
    return value


def primary_model(model_field: str) -> str:
    return model_field.split(",")[0].strip()


def _texts(body: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    """(container, key, text) of every text the caller wrote: system, message contents, text parts."""
    out: list[tuple[Any, Any, str]] = []
    if isinstance(body.get("system"), str):
        out.append((body, "system", body["system"]))
    for m in body.get("messages") or ():
        if not isinstance(m, dict):
            continue
        c = m.get("content")
        if isinstance(c, str):
            out.append((m, "content", c))
        elif isinstance(c, list):
            for part in c:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    out.append((part, "text", part["text"]))
    return out


def estimate_tokens(body: dict[str, Any]) -> int:
    chars = sum(len(t) for _, _, t in _texts(body))
    if body.get("tools"):
        chars += len(orjson.dumps(body["tools"]))
    return math.ceil(chars / CHARS_PER_TOKEN)


def input_limit(body: dict[str, Any], context: int) -> int:
    for name in _OUTPUT_FIELDS:
        v = body.get(name)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return max(0, context - v)
    return max(0, context - context // 10)


def fit(
    handler: str, body: dict[str, Any], model_field: str, context: int | None
) -> tuple[dict[str, Any], str]:
    """(body, model field) to send. The body is a copy when it changes; the caller's dict is never mutated."""
    if not isinstance(body.get("messages"), list):
        return body, model_field
    over = context is not None and estimate_tokens(body) > input_limit(body, context)
    if handler == "fallback":
        items = [i.strip() for i in model_field.split(",") if i.strip()]
        if len(items) < 2 or context is None:
            return body, model_field
        return body, items[1] if over else items[0]
    if not over:
        return body, model_field
    body = orjson.loads(orjson.dumps(body))  # deep copy: the texts are cut in place below
    texts = _texts(body)
    if handler == "truncate":
        for holder, key, text in texts:
            holder[key] = _SPACES.sub(" ", text).strip() or text[:1]
        texts = _texts(body)
    budget = input_limit(body, context) * CHARS_PER_TOKEN  # type: ignore[arg-type]
    if body.get("tools"):
        budget -= len(orjson.dumps(body["tools"]))
    total = sum(len(t) for _, _, t in texts)
    if total <= budget:
        return body, model_field
    ratio = max(0.0, budget) / total
    for holder, key, text in texts:
        keep = max(1, int(len(text) * ratio))
        if keep >= len(text):
            continue
        if handler == "truncate":
            holder[key] = text[:keep]
        else:
            head = keep - keep // 2
            holder[key] = text[:head] + text[len(text) - keep // 2 :] if keep // 2 else text[:head]
    return body, model_field


def fit_request(
    handler: str, body: dict[str, Any], model_field: str, override: Any, planner: Any, ring: Any
) -> tuple[dict[str, Any], str]:
    """`fit` with the primary model's context: `Helicone-Model-Override`'s when set, else the first attempt's of the
    primary item's plan (None when the primary cannot be planned: the plan itself will answer that)."""
    model_field = expand(model_field, getattr(planner, "aliases", {}))  # an alias of a chain falls back too
    context = override.context if override is not None else None
    if context is None:
        try:
            attempts = planner.plan(primary_model(model_field), ring)
        except GatewayError:
            attempts = []
        context = attempts[0].context if attempts else None
    return fit(handler, body, model_field, context)
