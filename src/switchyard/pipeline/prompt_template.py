"""Helicone prompt templating, pure: variables `{{hc:name:type}}`, partials `{{hcp:prompt_id:index[:env]}}`, and
the merge of a saved version with the caller's body.

Variables: `string`, `number` and `boolean` are checked (booleans accept true/false, "true"/"false", "yes"/"no");
any other type name is untyped. A string that is exactly one variable becomes the typed value (so a schema's
`"enum": "{{hc:tools:array}}"` takes a list); inside a larger string the value is substituted as text. Keys and
values of the whole saved body are templated (messages, tools, response_format, ...); the caller's own
messages are not. Partials insert message `index` (0-based) of another prompt's version and resolve first.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

VARIABLE = re.compile(r"\{\{\s*hc:([A-Za-z_][\w\-]*):([A-Za-z_]\w*)\s*\}\}")
PARTIAL = re.compile(r"\{\{\s*hcp:([\w\-]+):(\d+)(?::([\w\-]+))?\s*\}\}")
PROMPT_FIELDS = ("prompt_id", "environment", "version_id", "inputs")
MAX_PARTIALS = 64  # distinct partial references in one version (each may be a store lookup)
_TRUE, _FALSE = ("true", "yes"), ("false", "no")


class TemplateError(ValueError):
    """One line per problem; the caller answers 400 with the message."""


def _typed(name: str, kind: str, value: Any, errors: list[str]) -> Any:
    if kind == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                pass
            else:
                if f == f and f not in (float("inf"), float("-inf")):
                    return int(f) if f.is_integer() and "." not in value and "e" not in value.lower() else f
        errors.append(f"Variable '{name}' is 'number' but got {_shown(value)}")
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        errors.append(f"Variable '{name}' is 'boolean' but got {_shown(value)}")
        return value
    if kind == "string" and not isinstance(value, str):
        return value if isinstance(value, (int, float)) else _as_text(value)
    return value


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else orjson.dumps(value).decode()


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode()


def _fill(value: Any, inputs: dict[str, Any], errors: list[str]) -> Any:
    if isinstance(value, str):
        whole = VARIABLE.fullmatch(value.strip())
        if whole:
            name, kind = whole.groups()
            if name not in inputs:
                errors.append(f"Variable '{name}' has no value in 'inputs'")
                return value
            return _typed(name, kind, inputs[name], errors)

        def one(m: re.Match[str]) -> str:
            name, kind = m.groups()
            if name not in inputs:
                errors.append(f"Variable '{name}' has no value in 'inputs'")
                return m.group()
            return _as_text(_typed(name, kind, inputs[name], errors))

        return VARIABLE.sub(one, value) if "{{" in value else value
    if isinstance(value, list):
        return [_fill(v, inputs, errors) for v in value]
    if isinstance(value, dict):
        return {
            (_as_text(_fill(k, inputs, errors)) if "{{" in k else k): _fill(v, inputs, errors)
            for k, v in value.items()
        }
    return value


def fill_variables(body: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    errors: list[str] = []
    out = _fill(body, inputs, errors)
    if errors:
        raise TemplateError("\n".join(dict.fromkeys(errors)))
    return out


def message_text(message: Any) -> str:
    """A message's content as text (the text parts of an array joined)."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


Lookup = Callable[[str, str], Awaitable[dict[str, Any] | None]]  # (prompt_id, environment) → version body


async def resolve_partials(body: dict[str, Any], lookup: Lookup) -> dict[str, Any]:
    """Every `{{hcp:...}}` in the saved messages replaced by the referenced message's text (one level: a
    partial's own partials are not expanded, so references cannot loop)."""
    raw = orjson.dumps(body.get("messages") or []).decode()
    refs = {m.group(): m.groups() for m in PARTIAL.finditer(raw)}
    if not refs:
        return body
    if len(refs) > MAX_PARTIALS:
        raise TemplateError(
            f"The prompt references {len(refs)} different partials; at most {MAX_PARTIALS} are allowed"
        )
    texts: dict[str, str] = {}
    for ref, (pid, index, env) in refs.items():
        other = await lookup(pid, env or "production")
        if other is None:
            raise TemplateError(f"Partial {ref}: no prompt {pid!r} in environment {env or 'production'!r}")
        msgs = other.get("messages") or []
        i = int(index)
        if i >= len(msgs):
            raise TemplateError(f"Partial {ref}: prompt {pid!r} has {len(msgs)} messages")
        texts[ref] = message_text(msgs[i])

    def sub(v: Any) -> Any:
        if isinstance(v, str):
            return PARTIAL.sub(lambda m: texts[m.group()], v) if "{{" in v else v
        if isinstance(v, list):
            return [sub(x) for x in v]
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        return v

    return {**body, "messages": sub(body.get("messages") or [])}


def merge(saved: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The saved body as defaults, every other field of the request overriding it, the request's messages
    appended after the saved ones; the prompt fields themselves are not sent upstream."""
    out = dict(saved)
    for k, v in request.items():
        if k not in PROMPT_FIELDS and k != "messages":
            out[k] = v
    extra = request.get("messages")
    if extra is not None and not isinstance(extra, list):
        out["messages"] = extra  # the chat checks answer 400 for it, as without a prompt
    else:
        out["messages"] = list(saved.get("messages") or []) + list(extra or [])
    return out
