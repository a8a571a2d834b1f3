"""Billing: usage sent to Stripe as meter events."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from .base import Strict

METER_KINDS = ("requests", "prompt_tokens", "completion_tokens", "total_tokens", "cost_micro_usd")


class StripeMeterSettings(Strict):
    """Usage per `Helicone-Stripe-Customer-Id` sent to Stripe as meter events (observe/stripe_meter.py)."""

    # "${STRIPE_SECRET_KEY}": a secret (sk_...) or restricted (rk_...) key. Unset or empty: nothing is sent.
    secret_key: str | None = Field(None, repr=False)
    api_base: str | None = None  # default Stripe's own; a test stand-in's address in tests
    # The organisations (name or id, as `--org` takes them) whose requests are metered; empty: none (one warning at
    # start when a key is set). One key bills into one Stripe account, and the customer is the caller's header, so
    # list only organisations trusted to name that account's customers (docs/security.md §9, S6).
    orgs: list[str] = Field(default_factory=list)
    # What is sent, as {kind: Stripe meter event_name}; kinds: requests, prompt_tokens, completion_tokens,
    # total_tokens, cost_micro_usd (USD x 1,000,000). One event per organisation, customer, period and kind.
    meters: dict[Literal[METER_KINDS], str] = Field(  # type: ignore[valid-type]
        default_factory=lambda: {"total_tokens": "switchyard_tokens"}
    )
    customer_payload_key: str = "stripe_customer_id"  # the meter's customer_mapping.event_payload_key
    value_payload_key: str = "value"  # the meter's value_settings.event_payload_key
    interval_seconds: int = Field(3600, ge=1, le=86_400)  # period length (periods are aligned to the epoch)
    settle_seconds: float = Field(120.0, ge=0)  # a period is sent this long after it ends (late log rows)
    poll_seconds: float = Field(30.0, gt=0)  # how often a replica looks for closed periods
    max_network_retries: int = Field(2, ge=0, le=10)  # the stripe client's own retries of one request
    retry_max_seconds: float = Field(300.0, gt=0)  # cap of the backoff between failed rounds
    timeout_seconds: float = Field(30.0, gt=0)

    @field_validator("secret_key")
    @classmethod
    def _key_shape(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^(sk|rk)_[A-Za-z0-9_]{8,}$", v):
            raise ValueError(
                "must be a Stripe secret key (sk_...) or restricted key (rk_...)"
            )  # never echoed
        return v

    @field_validator("api_base")
    @classmethod
    def _base(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+/?$", v):
            raise ValueError("must be a scheme and host, e.g. https://api.stripe.com")
        return v.rstrip("/") if v else v

    @field_validator("orgs")
    @classmethod
    def _orgs(cls, v: list[str]) -> list[str]:
        names = [o.strip() for o in v]
        if any(not o or len(o) > 128 for o in names):
            raise ValueError("an organisation name or id of 1 to 128 characters each")
        return list(dict.fromkeys(names))

    @field_validator("meters")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        for kind, name in v.items():
            if not name or len(name) > 100:
                raise ValueError(f"meters.{kind}: an event_name of 1 to 100 characters")
        return v


class BillingSettings(Strict):
    stripe: StripeMeterSettings = Field(default_factory=StripeMeterSettings)
