"""The provider contract: pure translators (sans-I/O) plus the value types the transport moves.

A provider never does network I/O. It turns an OpenAI-format chat body into an `UpstreamRequest`,
and turns what came back (a body, an error, or stream bytes) into OpenAI-format values. The
transport (`providers/transport.py`) is the only module that talks HTTP.

The lingua franca inside the gateway is the OpenAI Chat Completions wire format as plain dicts:
requests are `dict` bodies, responses are `chat.completion` dicts, stream output is a list of
`chat.completion.chunk` dicts. Callers speaking another format are translated at the edge
(`formats/`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import quote

ErrorKind = Literal[
    "rate_limited",  # 429 from the provider
    "overloaded",  # 503/529: provider busy
    "timeout",  # connect / first byte / total timeout, or 408
    "auth",  # 401/403 from the provider: the provider key is bad
    "bad_request",  # 400/422: the request itself is wrong
    "context_length",  # bad_request because the prompt is too long for the model
    "not_found",  # 404: unknown model or path at the provider
    "server",  # 5xx and anything unclassified
    "connection",  # could not connect, reset before a response
    # made by the gateway, not the provider:
    "unsupported",  # this provider cannot serve this request (format, kind, NO_MAPPING)
    "insufficient_credits",  # the organisation's credit balance cannot cover the worst case (PTB)
    "credits_unavailable",  # the credit ledger could not be reached (PTB)
    "circuit_open",  # the provider endpoint is ejected by the circuit breaker
    "cancelled",  # a hedged attempt that lost the race
]


@dataclass(slots=True)
class Target:
    """One concrete place to send an attempt: provider, provider model id, credentials, endpoint config."""

    provider: str
    model: str  # provider model id, sent upstream
    format: str  # wire format: openai | anthropic | gemini | bedrock | azure | vertex
    base_url: str
    api_key: str | None = None
    auth: str = "bearer"  # bearer | x-api-key | api-key | query-key | none
    config: Mapping[str, Any] = field(default_factory=dict)  # region, deployment, api_version, ...
    headers: Mapping[str, str] = field(default_factory=dict)  # extra static headers
    # BYOK only: the hosts an organisation's key may reach (`pipeline.byok_egress.Egress`); None for the
    # operator's own keys. `.check(url)` raises when the final URL is elsewhere.
    egress: Any = None


@dataclass(slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    stream: bool = False
    # what the gateway changed so the model accepts the request (param_rules, structured outputs); logged per attempt
    adjustments: list[str] = field(default_factory=list)


class UpstreamError(Exception):
    """A failed attempt, classified once. Retry and fallback read only `kind` and `retry_after`."""

    def __init__(
        self,
        status: int,
        kind: ErrorKind,
        message: str,
        *,
        type: str | None = None,
        code: str | int | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind: ErrorKind = kind
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retry_after = retry_after
        self.body = body
        self.should_retry: bool | None = None  # the provider's `x-should-retry` header, when it sent one
        self.adjustments: list[str] = []  # what the gateway had changed in the refused request (param_rules)

    def __repr__(self) -> str:
        return f"UpstreamError({self.status}, {self.kind!r}, {self.message!r})"


class StreamParser(Protocol):
    """Incremental decoder of a provider's stream into OpenAI `chat.completion.chunk` dicts.

    `feed` takes raw bytes as they arrive (any split), returns the chunks completed so far, and
    raises `UpstreamError` when the provider reports an error inside the stream. `close` flushes
    at end of stream and raises if the stream ended in a broken state.
    """

    def feed(self, data: bytes) -> list[dict[str, Any]]: ...

    def close(self) -> list[dict[str, Any]]: ...


class Provider(Protocol):
    """A wire format's translator. Pure: no I/O, no clocks other than for `created` stamps."""

    def build_request(self, body: dict[str, Any], target: Target) -> UpstreamRequest: ...

    def parse_response(self, body: bytes) -> dict[str, Any]: ...

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError: ...

    def stream_parser(self) -> StreamParser: ...


def kind_for_status(status: int) -> ErrorKind:
    """Default classification of an HTTP status; providers refine it from the error body."""
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 408:
        return "timeout"
    if status in (503, 529):
        return "overloaded"
    if 400 <= status < 500:
        return "bad_request"
    return "server"


def path_segment(value: str, what: str, safe: str = "") -> str:
    """`value` percent-encoded as exactly one URL path segment (`/`, `?`, `#`, spaces, non-ASCII all encoded).

    `.` and `..` are refused (400): servers resolve them as dot-segments, encoded or not."""
    if value in ("", ".", ".."):
        raise UpstreamError(
            400,
            "bad_request",
            f"{what} {value!r} cannot be used in an upstream URL",
            code="invalid_model",
            param="model",
        )
    return quote(value, safe=safe)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds form); None if absent or bad."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            return None
    return None
