"""Types and ranges of the standard OpenAI chat and completions parameters, checked once before any attempt.

OpenAI refuses a wrongly typed parameter with a 400 naming it; so does the gateway, for every provider: a
translator must never meet `max_tokens: [null]` (a TypeError deep in a translation would be a 500). `null` is
accepted wherever OpenAI accepts it (it means "not set"). Unknown parameters are not checked: they pass on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import GatewayError, bad_request


def _int(lo: int | None = None, hi: int | None = None) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int):
            return "an integer"
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return _range(lo, hi, "an integer")
        return None

    return check


def _number(lo: float, hi: float) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return "a number"
        if not lo <= v <= hi:
            return _range(lo, hi, "a number")
        return None

    return check


def _range(lo: float | None, hi: float | None, what: str) -> str:
    if lo is not None and hi is not None:
        return f"{what} from {lo:g} to {hi:g}"
    return f"{what} of at least {lo:g}" if lo is not None else f"{what} of at most {hi:g}"


def _type(t: type | tuple[type, ...], name: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if isinstance(v, t) else name

    return check


def _stop(v: Any) -> str | None:
    if isinstance(v, str) or (isinstance(v, list) and all(isinstance(s, str) for s in v)):
        return None
    return "a string or an array of strings"


def _tools(v: Any) -> str | None:
    if isinstance(v, list) and all(isinstance(t, dict) for t in v):
        return None
    return "an array of tool objects"


def _tool_choice(v: Any) -> str | None:
    return None if isinstance(v, (str, dict)) else "a string or an object"


_COMMON: dict[str, Callable[[Any], str | None]] = {
    "max_tokens": _int(1),
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "seed": _int(),
    "stream": _type(bool, "a boolean"),
    "stream_options": _type(dict, "an object"),
    "stop": _stop,
    "user": _type(str, "a string"),
    "logit_bias": _type(dict, "an object"),
}

CHAT: dict[str, Callable[[Any], str | None]] = {
    **_COMMON,
    "max_completion_tokens": _int(1),
    "logprobs": _type(bool, "a boolean"),
    "top_logprobs": _int(0, 20),
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _type(bool, "a boolean"),
    "response_format": _type(dict, "an object"),
    "reasoning_effort": _type(str, "a string"),
    "metadata": _type(dict, "an object"),
    "modalities": _type(list, "an array"),
}

COMPLETIONS: dict[str, Callable[[Any], str | None]] = {
    **_COMMON,
    "logprobs": _int(0, 5),
    "echo": _type(bool, "a boolean"),
    "suffix": _type(str, "a string"),
}


def check_params(body: dict[str, Any], rules: dict[str, Callable[[Any], str | None]]) -> None:
    """Raise a 400 naming the first standard parameter (in `rules`' order) whose type or range is wrong."""
    for name, value in body.items():  # a body names a few parameters, the table a score: look up the body's
        rule = rules.get(name)
        if rule is not None and value is not None and rule(value) is not None:
            break
    else:
        return
    for name, rule in rules.items():
        value = body.get(name)
        if value is None:
            continue
        expected = rule(value)
        if expected is not None:
            raise bad_request(
                f"Invalid value for '{name}': expected {expected}.", code="invalid_type", param=name
            )


def check_messages(messages: list[Any]) -> None:
    """Every chat message is an object with a string role."""
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise bad_request(
                f"Invalid type for 'messages[{i}]': expected an object.",
                code="invalid_type",
                param=f"messages[{i}]",
            )
        if not isinstance(msg.get("role"), str):
            raise GatewayError(
                400,
                f"Missing or invalid 'messages[{i}].role': expected a string.",
                code="invalid_type",
                param=f"messages[{i}].role",
            )
