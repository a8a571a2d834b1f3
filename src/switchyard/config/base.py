"""What every settings section shares: the strict, frozen model base, the load error, and the length rule for
secrets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message names the problem."""


class Strict(BaseModel):
    """Unknown keys are errors (a typo must not silently do nothing); settings never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


MIN_SECRET_LENGTH = 32  # characters of a master key, admin key or metrics token (security.MIN_SECRET_LENGTH)


def long_secret(value: str | None, what: str) -> str | None:
    """`value` unless it is set and shorter than MIN_SECRET_LENGTH (a validator: raises ValueError naming `what`)."""
    if value is not None and len(value) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"{what} is {len(value)} characters long; it must be at least {MIN_SECRET_LENGTH} "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return value
