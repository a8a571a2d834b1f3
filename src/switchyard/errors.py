"""One error hierarchy for everything the gateway itself rejects, with encoders to the callers' wire shapes.

The OpenAI shape is `{"error": {"message", "type", "param", "code"}}`; Switchyard adds Helicone's
`details` list (every failed attempt) when there is one. The Anthropic shape is
`{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

# OpenAI error `type` per status (what the OpenAI SDKs and users expect to read).
_OPENAI_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}

# Anthropic error `type` per status.
_ANTHROPIC_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
    529: "overloaded_error",
}


class GatewayError(Exception):
    """An error answered to the caller. `status` is the HTTP status; `code` a stable machine string."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.type = type
        self.param = param
        self.headers = headers or {}
        self.details = details

    def openai_body(self) -> bytes:
        err: dict[str, Any] = {
            "message": self.message,
            "type": self.type
            or _OPENAI_TYPE.get(
                self.status, "server_error" if self.status >= 500 else "invalid_request_error"
            ),
            "param": self.param,
            "code": self.code,
        }
        if self.details:
            err["details"] = self.details
        return orjson.dumps({"error": err})

    def anthropic_body(self) -> bytes:
        etype = _ANTHROPIC_TYPE.get(
            self.status, "api_error" if self.status >= 500 else "invalid_request_error"
        )
        return orjson.dumps({"type": "error", "error": {"type": etype, "message": self.message}})


def bad_request(message: str, *, code: str = "invalid_request", param: str | None = None) -> GatewayError:
    return GatewayError(400, message, code=code, param=param)


_SECRETISH = re.compile(r"\b(?:sk|pk|rk|xai|gsk|sk-ant|AIza)[-_A-Za-z0-9*]{8,}")


def redact(text: str) -> str:
    """Remove anything shaped like an API key (masked or not) from text that may reach a caller or a log."""
    return _SECRETISH.sub("[redacted]", text)
