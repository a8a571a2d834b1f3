"""The model field's checks (pipeline/caller_body.require_model): the fast paths for usual names (no regex search
for a printable ASCII name, no per-name split for a short field) refuse and accept exactly what the full checks do."""

from __future__ import annotations

import re

import pytest

from switchyard.errors import GatewayError
from switchyard.pipeline.caller_body import require_model

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _full(model: str) -> str | None:
    """The checks without fast paths: the message a bad name gets, None for a good one."""
    bad = _CONTROL.search(model)
    if not model.strip():
        return "'model' must not be empty."
    if bad:
        return f"'model' contains a control character (U+{ord(bad.group()):04X}) at position {bad.start()}."
    if len(model) > 2048:
        return f"'model' is {len(model)} characters long; at most 2048 are accepted."
    for name in model.split(","):
        if len(name.strip()) > 256:
            return (
                f"A model name in 'model' is {len(name.strip())} characters long; at most 256 are accepted."
            )
    return None


NAMES = [
    "gpt-4o-mini",
    "gpt-4o-mini/openai,claude-sonnet-4/anthropic,!azure",
    "a b",  # a space is printable
    "gpt\t4o",
    "gpt\x00",
    "x\x1f",
    "x\x7f",
    "x\x80y",
    "x\x85",
    "x\x9f",
    "x\xa0",  # no-break space: not a control character
    "modèle",
    "東京/openai",
    "x\u2028y",  # not ASCII, not a control character in _CONTROL's sense
    "a" * 256,
    "a" * 257,
    " " + "a" * 256 + " ",
    ",".join(["a" * 256] * 8),
    ",".join(["a" * 200, "b" * 257]),
    "a" * 2048,
    "a" * 2049,
    "   ",
]


@pytest.mark.parametrize("model", NAMES)
def test_require_model_matches_the_full_checks(model: str) -> None:
    expected = _full(model)
    if expected is None:
        assert require_model({"model": model}) == model
    else:
        with pytest.raises(GatewayError) as info:
            require_model({"model": model})
        assert info.value.status == 400 and info.value.message == expected
