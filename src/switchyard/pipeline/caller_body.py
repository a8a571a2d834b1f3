"""The caller's body: parsed as one JSON object, and its `model` field checked before it reaches the planner, an
upstream URL or a log row. Shared by the proxy routes and the token-counting route."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..errors import bad_request


def parse_json_body(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise bad_request("The request body is empty; send a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise bad_request(
            f"The request body is not valid JSON: {e.msg} (at position {e.pos}).", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    return body


_MAX_MODEL_NAME = 256  # one entry of the model field (a model with its /provider/key-id)
_MAX_MODEL_FIELD = 2048  # the whole field, fallbacks and exclusions included
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def require_model(body: dict[str, Any]) -> str:
    """The model field, checked before it reaches the planner, an upstream URL or a log row."""
    model = body.get("model")
    if model is None:
        raise bad_request("Missing required parameter: 'model'.", code="missing_model", param="model")
    if not isinstance(model, str):
        raise bad_request("Invalid type for 'model': expected a string.", code="invalid_model", param="model")
    if not model.strip():
        raise bad_request("'model' must not be empty.", code="invalid_model", param="model")
    # an ASCII name without C0 controls or DEL (every usual one) cannot match _CONTROL: no regex search for it
    bad = None if model.isascii() and model.isprintable() else _CONTROL.search(model)
    if bad:
        raise bad_request(
            f"'model' contains a control character (U+{ord(bad.group()):04X}) at position {bad.start()}.",
            code="invalid_model",
            param="model",
        )
    if len(model) > _MAX_MODEL_FIELD:
        raise bad_request(
            f"'model' is {len(model)} characters long; at most {_MAX_MODEL_FIELD} are accepted.",
            code="invalid_model",
            param="model",
        )
    for name in (
        model.split(",") if len(model) > _MAX_MODEL_NAME else ()
    ):  # a shorter field has no longer name
        if len(name.strip()) > _MAX_MODEL_NAME:
            raise bad_request(
                f"A model name in 'model' is {len(name.strip())} characters long; at most "
                f"{_MAX_MODEL_NAME} are accepted.",
                code="invalid_model",
                param="model",
            )
    return model
