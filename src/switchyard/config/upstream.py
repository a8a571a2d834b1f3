"""Reaching the providers: per-provider overrides, upstream timeouts and pool, retries, circuit breaker, session
affinity."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..providers.formats import FORMATS
from ..providers.request_head import header_problem
from .base import Strict


class ProviderSettings(Strict):
    """A built-in provider override or a new (custom) provider."""

    format: str | None = None  # a wire format of `providers/formats.py`'s table
    base_url: str | None = None
    api_key: str | None = None
    auth: Literal["bearer", "x-api-key", "api-key", "goog-api-key", "query-key", "none"] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    completions: bool | None = None  # serves legacy /completions natively
    embeddings: bool | None = None
    priority: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)  # region, deployment, api_version, ...
    # Per-provider upstream timeouts (seconds); unset: the `upstream` defaults.
    connect_timeout: float | None = Field(None, gt=0)
    first_byte_timeout: float | None = Field(None, gt=0)
    total_timeout: float | None = Field(None, gt=0)

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str | None) -> str | None:
        if v is not None and v not in FORMATS:
            raise ValueError(f"unknown wire format {v!r}; known: {', '.join(FORMATS)}")
        return v

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            problem = header_problem(name, value)
            if problem:
                raise ValueError(problem)
        return v


class UpstreamSettings(Strict):
    connect_timeout: float = Field(10.0, gt=0)
    # Long by default: reasoning models can think for many minutes before the first byte.
    first_byte_timeout: float = Field(600.0, gt=0)
    total_timeout: float = Field(3600.0, gt=0)
    pool_size: int = Field(512, ge=1)  # idle keep-alive connections kept per upstream host
    # Open connections per upstream host (scheme, host, port); a request past it waits for one to come free.
    max_connections_per_host: int = Field(1024, ge=1)
    # Body bytes of one upstream response (streamed or not), and what a gzip/deflate body may expand to.
    max_response_bytes: int = Field(256 * 1024 * 1024, ge=1024)
    # An idle keep-alive connection is not reused after this many seconds (nor after the upstream's own
    # `Keep-Alive: timeout` less one second).
    idle_timeout: float = Field(50.0, gt=0)


class RetrySettings(Strict):
    """Retries of one attempt before moving to the next (Helicone-Retry-* headers override per request)."""

    enabled: bool = False
    num: int = Field(2, ge=0, le=10)
    factor: float = Field(2.0, ge=1.0, le=10.0)
    min_timeout_ms: int = Field(1000, ge=0)
    max_timeout_ms: int = Field(10_000, ge=0)


class BreakerSettings(Strict):
    """Circuit breaker per provider endpoint and key."""

    failures: int = Field(5, ge=1)  # consecutive failures that open the circuit
    open_seconds: float = Field(30.0, gt=0)  # first ejection; doubles on each failed half-open probe
    max_open_seconds: float = Field(300.0, gt=0)


class AffinitySettings(Strict):
    """Session affinity (pipeline/session_pins.py): a session's requests go back to the endpoint and key that
    served its previous request, for as long as the provider keeps its prompt cache."""

    enabled: bool = True
    max_per_org: int = Field(10_000, ge=1)  # pins kept per organisation (least recently used dropped)
    max_total: int = Field(
        200_000, ge=1
    )  # pins kept in all (~250 B each; the longest idle organisation's go first)
    # Pin lifetime per provider id (seconds), over the built-in prompt-cache lifetimes (session_pins.py).
    ttl_seconds: dict[str, float] = Field(default_factory=dict)

    @field_validator("ttl_seconds")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        for provider, seconds in v.items():
            if not 0 < seconds <= 7 * 86400:
                raise ValueError(
                    f"{provider}: a pin lifetime is more than 0 and at most 604800 seconds (7 days)"
                )
        return v


class RoutingSettings(Strict):
    retries: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    affinity: AffinitySettings = Field(default_factory=AffinitySettings)
