"""Token counting as the three Claude hosts serve it, for the mock upstream: Anthropic's
`POST /v1/messages/count_tokens`, Bedrock's CountTokens (`/model/{id}/count-tokens`) and Vertex AI's
`count-tokens:rawPredict`. Each refuses what the real one refuses (Anthropic: fields a count request does not
take, such as `max_tokens`, and a missing `messages` or `model`). The count is deterministic (`expected_count`)
so tests can check the number that came back. Answers are (status, JSON payload, headers)."""

from __future__ import annotations

import base64
from typing import Any

import orjson

COUNT_PATHS = ("/messages/count_tokens", "/count-tokens", "/count-tokens:rawPredict")
# What Anthropic's count_tokens accepts besides `model` and `messages` (anything else: "Extra inputs are not permitted")
_ACCEPTED = {
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "mcp_servers",
    "context_management",
    "output_config",
    "output_format",
}


def expected_count(body: dict[str, Any]) -> int:
    """The mock's count: one token per 4 bytes of the counted fields' JSON, plus one."""
    counted = {k: body.get(k) for k in ("system", "messages", "tools") if body.get(k) is not None}
    return len(orjson.dumps(counted)) // 4 + 1


Answer = tuple[int, dict[str, Any], dict[str, str]]
_BEDROCK_REFUSAL = {"x-amzn-errortype": "ValidationException"}


def _refuse(message: str) -> Answer:
    return 400, {"type": "error", "error": {"type": "invalid_request_error", "message": message}}, {}


def _counted(n: int, name: str = "input_tokens") -> Answer:
    return 200, {name: n}, {}


def _anthropic_refusal(body: Any, *, vertex: bool = False) -> str | None:
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if "messages" not in body:
        return "messages: Field required"
    if "model" not in body:
        return "model: Field required"
    for key in body:
        if key not in _ACCEPTED and not (vertex and key == "anthropic_version"):
            return f"{key}: Extra inputs are not permitted"
    return None


def count_tokens(path: str, body: Any) -> Answer:
    if path.endswith("/count-tokens:rawPredict"):  # Vertex AI: the model id in the body
        why = _anthropic_refusal(body, vertex=True)
        return _refuse(why) if why else _counted(expected_count(body))
    if path.endswith("/count-tokens"):  # Bedrock CountTokens: an InvokeModel body, base64
        try:
            invoke = orjson.loads(base64.b64decode(body["input"]["invokeModel"]["body"]))
        except (KeyError, TypeError, ValueError):
            return (
                400,
                {"message": "input.invokeModel.body: a base64 InvokeModel body is required"},
                _BEDROCK_REFUSAL,
            )
        if (
            invoke.get("anthropic_version") != "bedrock-2023-05-31"
            or "model" in invoke
            or "messages" not in invoke
        ):
            message = "Malformed input request: anthropic_version, messages required; model not allowed"
            return 400, {"message": message}, _BEDROCK_REFUSAL
        return _counted(expected_count(invoke), "inputTokens")
    why = _anthropic_refusal(body)
    return _refuse(why) if why else _counted(expected_count(body))
