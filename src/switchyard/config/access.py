"""Who may do what: the master secret and BYOK egress, the admin API key, and the rate-limit, budget and credit
policy every request is checked against."""

from __future__ import annotations

from pydantic import Field, field_validator

from .base import Strict, long_secret


class SecuritySettings(Strict):
    # Master secret for key hashing (HMAC) and provider-key encryption (AES-GCM). Embedded default: a
    # random secret generated once into $SWITCHYARD_HOME/master.key. Replicas must share one value; a process
    # whose secret differs from the one the database was set up with refuses to start (security.verify_master).
    master_key: str | None = None

    # Hosts an organisation's own provider keys (BYOK) may send requests to, per provider id: patterns
    # `[http://|https://]host[:port|:*]`, `*` within one DNS label. A provider listed here replaces its built-in
    # list (Azure, Bedrock and Vertex cloud hosts; none for other formats). See pipeline/byok_egress.py.
    byok_endpoints: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("master_key")
    @classmethod
    def _length(cls, v: str | None) -> str | None:
        return long_secret(v, "the master key")

    @field_validator("byok_endpoints")
    @classmethod
    def _patterns(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        from ..providers.egress_patterns import Pattern  # the one parser; refused patterns stop the start

        for patterns in v.values():
            for p in patterns:
                Pattern.parse(p)
        return v


class AdminSettings(Strict):
    # The admin API (/admin/v1/...) answers only to this key (Authorization: Bearer ...). Unset: disabled.
    key: str | None = None

    @field_validator("key")
    @classmethod
    def _length(cls, v: str | None) -> str | None:
        return long_secret(v, "the admin key (admin.key or SWITCHYARD_ADMIN_KEY)")


class CreditSettings(Strict):
    # A reservation left by a crashed process is released after this long.
    reservation_ttl_seconds: int = Field(3600, ge=60)


class LimitSettings(Strict):
    """Rate limits and budgets (pipeline/limits.py) and what every request is checked against before any attempt."""

    # Largest `n` (chat, completions) and `best_of` (completions) a request may ask for; above: 400 `invalid_n`.
    # 128 is OpenAI's own maximum for `n`, so no request OpenAI accepts is refused; lower it to taste.
    max_n: int = Field(128, ge=1)
    # A USD budget or `u=cents` policy refuses calls on the gateway's own provider keys whose price is unknown
    # (400 `price_unknown`): their cost could not be counted. true: admit them, counted as $0 (the old behaviour).
    allow_unpriced: bool = False
    # Longest window a Helicone-RateLimit-Policy header may ask for; longer is a 400. 31 days.
    max_policy_window_seconds: int = Field(31 * 24 * 3600, ge=1, le=366 * 24 * 3600)
    # Live per-user / per-property counters per gateway key (header policies) and per organisation (configured
    # limits); past it the least recently used one is dropped (that user starts a fresh window).
    max_segment_counters: int = Field(10_000, ge=16)
