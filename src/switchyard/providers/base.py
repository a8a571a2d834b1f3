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

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol
from urllib.parse import quote

import orjson

from .credentials import CredentialSpec

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


class StreamReframer(Protocol):
    """Unwraps an envelope around a stream in the caller's own format (Bedrock's binary event stream around
    Anthropic events): `feed` returns the inner bytes completed so far, `close` raises on a broken envelope."""

    def feed(self, data: bytes) -> bytes: ...

    def close(self) -> None: ...


class Provider(ABC):
    """A wire format's translator: the whole contract the executor (`pipeline/call.py`) relies on.

    Pure: no I/O and no clocks other than for `created` stamps — except `sign`, which may fetch a token.
    Four methods are required (the translated chat path); every other hook has a default that means "this
    format does not do that", so a plain OpenAI-chat-like format implements four methods and nothing else.
    The executor calls these hooks directly and never probes for attributes.

    Caller kinds (`kind`): "chat", "completions", "responses", "embeddings", "messages" (Anthropic Messages).
    """

    #: the wire format's name, as in `providers/formats.py`'s table and a provider's `format:` in config
    name: ClassVar[str] = ""
    #: caller kinds this format can receive as they are (no translation); see `serves_natively`
    native_kinds: ClassVar[frozenset[str]] = frozenset()
    #: what an organisation's own key (BYOK) of this format carries: config names, secret parts, egress hosts
    credentials: ClassVar[CredentialSpec] = CredentialSpec()
    #: False when the format builds its URL from config (region, resource, project): a custom provider of
    #: this format needs no `base_url`
    needs_base_url: ClassVar[bool] = True

    @classmethod
    def missing_setting(cls, provider_id: str, base_url: str | None, config: Mapping[str, Any]) -> str | None:
        """What a provider of this format must still have configured (besides its key) before it can be
        called, as an instruction naming the setting; None (default) when nothing is missing."""
        return None

    # -- the translated chat path (required) ------------------------------------------------------------

    @abstractmethod
    def build_request(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        """An OpenAI chat body (already fitted to the model's rules) as this format's upstream request."""

    @abstractmethod
    def parse_response(self, body: bytes) -> dict[str, Any]:
        """A 2xx answer to `build_request` as an OpenAI `chat.completion` dict."""

    @abstractmethod
    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        """A non-2xx answer, classified (`ErrorKind`) once; the message must not quote credentials."""

    @abstractmethod
    def stream_parser(self) -> StreamParser:
        """A fresh decoder of a streamed answer to `build_request` into OpenAI chunks."""

    # -- native pass-through (caller and upstream speak the same format) -----------------------------------

    def serves_natively(self, target: Target, kind: str) -> bool:
        """Whether a caller of `kind` can pass through to this target untranslated. Default: `kind` is one
        of `native_kinds`. Override where one format hosts several model families (Bedrock, Vertex)."""
        return kind in self.native_kinds

    def native_request(
        self, body: dict[str, Any], target: Target, kind: str, headers: Mapping[str, str] | None = None
    ) -> UpstreamRequest:
        """The caller's own body for a `kind` this target `serves_natively`; `headers` are the caller's
        forwardable headers (e.g. `anthropic-beta`). Default: refused (kind `unsupported`: next attempt)."""
        raise UpstreamError(
            400, "unsupported", f"provider {target.provider} does not take {kind} requests natively"
        )

    def parse_native(self, data: bytes, kind: str) -> dict[str, Any]:
        """A native 2xx answer decoded for the log: a dict whose `usage` and `model` are recorded (the caller
        gets `data` untouched). Default: the answer is a JSON object already carrying them (OpenAI shapes)."""
        return json_object(data)

    def native_parser(self, kind: str) -> StreamParser:
        """Decoder of a native stream into OpenAI chunks, for usage, the log and in-stream errors. Used for
        kinds whose stream is not OpenAI's own ("messages"). Default: `stream_parser()`."""
        return self.stream_parser()

    def native_reframer(self, kind: str) -> StreamReframer | None:
        """An unwrapper for a native stream that arrives in another envelope; None (default): no envelope."""
        return None

    # -- embeddings (translated; OpenAI-format upstreams serve them natively) ----------------------------

    def build_embeddings(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        """An OpenAI embeddings body as this format's request. Default: no embeddings API (`unsupported`)."""
        raise UpstreamError(400, "unsupported", f"provider {target.provider} has no embeddings API here")

    def parse_embeddings(self, data: bytes, body: dict[str, Any], model: str) -> dict[str, Any]:
        """The answer to `build_embeddings` in OpenAI's embeddings list shape (`body` is the caller's)."""
        raise UpstreamError(502, "server", f"the {self.name} wire format has no embeddings parser")

    # -- signing (the one hook that may do I/O) ----------------------------------------------------------

    async def sign(self, req: UpstreamRequest, target: Target) -> UpstreamRequest:
        """The request with its credentials applied after it was built (SigV4, OAuth tokens). Called for every
        request, token counts included. Default: unchanged (credentials already in the headers)."""
        return req

    # -- Anthropic token counting (`POST /v1/messages/count_tokens`) ---------------------------------------

    def counts_tokens(self, target: Target) -> bool:
        """Whether this target has a token-counting API (Claude models). Default: no; never an estimate."""
        return False

    def count_request(
        self, body: dict[str, Any], target: Target, headers: Mapping[str, str] | None = None
    ) -> UpstreamRequest:
        """The upstream count request for an Anthropic count_tokens `body`, where `counts_tokens(target)`."""
        raise UpstreamError(400, "unsupported", f"provider {target.provider} cannot count tokens")

    def parse_count(self, data: bytes, target: Target) -> int:
        """The input-token count from the answer to `count_request`. Default: Anthropic's `input_tokens`."""
        return count_field(data, "input_tokens", target)


def json_object(data: bytes) -> dict[str, Any]:
    """A 2xx body that must be a JSON object; a 502 (`server`: the next attempt may serve) otherwise."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamError(502, "server", "upstream answered 200 with a body that is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamError(502, "server", "upstream answered 200 with JSON that is not an object")
    return parsed


def count_field(data: bytes, key: str, target: Target) -> int:
    """A token count from a counting API's answer; a 502 when there is none (never a made-up 0)."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = None
    value = parsed.get(key) if isinstance(parsed, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UpstreamError(
            502, "server", f"{target.provider} answered the token count without a valid {key!r}"
        )
    return value


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
