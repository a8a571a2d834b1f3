"""What the admin API and the CLI accept: pydantic request models, limit-rule parsing and the JSON views of
stored objects. One module so both front ends reject the same input with the same message.

Every validation failure becomes a 400 `GatewayError` whose message (and `param`) names the field, e.g.
`limits[0].window_seconds: Input should be less than or equal to 31536000`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from ..errors import GatewayError, bad_request
from ..stores.base import CreditBalance, GatewayKey, LedgerEntry, LimitRule, Org, ProviderKey

MAX_WINDOW_SECONDS = 31_536_000  # one year
MAX_CREDIT_GRANT_USD = 1_000_000_000.0
MAX_LIMITS = 64  # rules per key or organisation: each one is checked on every request
MAX_ALLOWED_MODELS = 1024

# Provider-key config: the visible keys, and the secret ones (Bedrock's AWS credentials) that are sealed into
# the ciphertext with the key and never stored in `config` or shown.
PUBLIC_CONFIG_KEYS = frozenset(
    {
        "region",
        "resource",
        "deployment",
        "api_version",
        "base_url",
        "project",
        "location",
        "endpoint",
        "cross_region",
    }
)
SECRET_CONFIG_KEYS = frozenset({"access_key_id", "secret_access_key", "session_token"})
SECRET_CONFIG_PROVIDERS = frozenset({"bedrock"})

_PER = re.compile(r"^(key|org|user|property:[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")
_PROVIDER_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


class _Body(BaseModel):
    """Unknown fields are errors (a typo must not silently do nothing); no lax coercion of "yes" to True."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LimitIn(_Body):
    metric: Literal["requests", "tokens", "usd"]
    limit: float = Field(gt=0, allow_inf_nan=False)
    window_seconds: int = Field(ge=1, le=MAX_WINDOW_SECONDS)
    per: str = "key"

    @field_validator("per")
    @classmethod
    def _per(cls, v: str) -> str:
        if not _PER.match(v):
            raise ValueError('must be "key", "org", "user" or "property:<name>"')
        return v.lower() if v.startswith("property:") else v

    def rule(self) -> LimitRule:
        return LimitRule(
            metric=self.metric, limit=self.limit, window_seconds=self.window_seconds, per=self.per
        )


class OrgCreate(_Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class OrgPatch(_Body):
    credits_enabled: bool | None = None
    allow_caller_provider_keys: bool | None = None
    limits: Annotated[list[LimitIn], Field(max_length=MAX_LIMITS)] | None = None


class KeyCreate(_Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None = None
    allowed_models: Annotated[list[NonEmpty], Field(max_length=MAX_ALLOWED_MODELS)] | None = None
    limits: Annotated[list[LimitIn], Field(max_length=MAX_LIMITS)] | None = None

    @field_validator("allowed_models")
    @classmethod
    def _dedupe(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else list(dict.fromkeys(v))


class KeyPatch(KeyCreate):
    pass


ConfigValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


def _check_config(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if v is None:
        return None
    allowed = PUBLIC_CONFIG_KEYS | SECRET_CONFIG_KEYS
    for k in v:
        if k not in allowed:
            raise ValueError(f"unknown config key {k!r}; accepted: {', '.join(sorted(allowed))}")
    base = v.get("base_url")
    if isinstance(base, str) and not re.match(r"^https?://[^/\s]+", base.strip()):
        raise ValueError("base_url must be an http:// or https:// URL")
    return v


class ProviderKeyCreate(_Body):
    provider: NonEmpty
    key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16384)]
    id: str | None = None
    config: dict[str, ConfigValue] | None = None
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v is not None and not _PROVIDER_KEY_ID.match(v):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return v

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_config(v)


class ProviderKeyPatch(_Body):
    """`config` is a merge patch: the keys given replace the stored ones, a key set to null is removed."""

    key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16384)] | None = (
        None
    )
    config: dict[str, ConfigValue | None] | None = None
    enabled: bool | None = None

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_config(v)


class CreditGrant(_Body):
    amount_usd: float = Field(ge=0.000001, le=MAX_CREDIT_GRANT_USD, allow_inf_nan=False)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """Validate `data` into `model`, or raise a 400 naming the first bad field."""
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    nul = _nul_at(data, ())
    if nul is not None:  # PostgreSQL text cannot store NUL: a 400 here, not a 500 from the store
        field = _loc(nul)
        raise bad_request(f"{field}: must not contain NUL (U+0000) characters", param=field or None)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = _loc(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = (
                f"unknown field (accepted: {', '.join(model.model_fields)})"
                if len(err["loc"]) == 1
                else "unknown field"
            )
        raise bad_request(f"{field}: {msg}" if field else msg, param=field or None) from None


def _nul_at(value: Any, loc: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Where the first NUL character sits in a parsed JSON value (a key or a string), or None."""
    if isinstance(value, str):
        return loc if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = (*loc, k) if "\x00" in k else _nul_at(v, (*loc, k))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_at(v, (*loc, i))
            if found is not None:
                return found
    return None


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_limit_spec(spec: str) -> LimitRule:
    """The CLI's compact form `metric:limit:window[:per]`, e.g. `requests:100:60`, `usd:5:1d:user`,
    `tokens:100000:1h:property:team`. The window takes an optional s/m/h/d suffix. Validated exactly like the
    API's JSON form."""
    parts = spec.split(":", 3)
    if len(parts) < 3:
        raise bad_request(
            f"limit {spec!r}: expected metric:limit:window[:per], e.g. requests:100:60", param="limits"
        )
    metric, limit, window = parts[0], parts[1], parts[2]
    m = _DURATION.match(window.strip())
    if m is None:
        raise bad_request(
            f"limit {spec!r}: window must be whole seconds, optionally with s/m/h/d", param="limits"
        )
    try:
        amount = float(limit)
    except ValueError:
        raise bad_request(f"limit {spec!r}: limit must be a number", param="limits") from None
    data: dict[str, Any] = {
        "metric": metric,
        "limit": amount,
        "window_seconds": int(m.group(1)) * _UNITS[m.group(2)],
    }
    if len(parts) == 4:
        data["per"] = parts[3]
    try:
        return LimitIn.model_validate(data).rule()
    except ValidationError as e:
        err = e.errors()[0]
        raise bad_request(
            f"limit {spec!r}: {_loc(err['loc'])}: {err['msg'].removeprefix('Value error, ')}", param="limits"
        ) from None


def split_config(provider: str, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(visible config, secret fields). Secret fields are only meaningful for providers that sign with them."""
    public = {k: v for k, v in config.items() if k not in SECRET_CONFIG_KEYS}
    secret = {k: v for k, v in config.items() if k in SECRET_CONFIG_KEYS}
    if secret and provider not in SECRET_CONFIG_PROVIDERS:
        name = sorted(secret)[0]
        raise bad_request(
            f"config.{name}: only accepted for {', '.join(sorted(SECRET_CONFIG_PROVIDERS))}",
            param=f"config.{name}",
        )
    return public, secret


def hint(key: str) -> str:
    """The last four characters: enough to tell keys apart, useless for calling the provider. A key shorter than
    12 characters gets no hint (four characters would be too much of it); a service-account JSON gets the end of
    its `private_key_id`."""
    if key.startswith("{"):
        try:
            obj = orjson.loads(key)
        except orjson.JSONDecodeError:
            return ""
        kid = obj.get("private_key_id") if isinstance(obj, dict) else None
        return kid[-4:] if isinstance(kid, str) and len(kid) >= 12 else ""
    return key[-4:] if len(key) >= 12 else ""


def limits_json(limits: tuple[LimitRule, ...]) -> list[dict[str, Any]]:
    return [r.as_dict() for r in limits]


def org_json(org: Org) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "created_at": org.created_at,
        "credits_enabled": org.credits_enabled,
        "limits": limits_json(org.limits),
        "allow_caller_provider_keys": org.allow_caller_provider_keys,
    }


def key_json(key: GatewayKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "org_id": key.org_id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "active": key.active,
        "allowed_models": list(key.allowed_models),
        "limits": limits_json(key.limits),
    }


def provider_key_json(pk: ProviderKey) -> dict[str, Any]:
    return {**pk.public(), "org_id": pk.org_id}


def balance_json(b: CreditBalance, org: Org) -> dict[str, Any]:
    return {
        "org_id": b.org_id,
        "credits_enabled": org.credits_enabled,
        "balance_usd": b.balance_usd,
        "reserved_usd": b.reserved_usd,
        "available_usd": b.available_usd,
    }


def ledger_json(e: LedgerEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "org_id": e.org_id,
        "created_at": e.created_at,
        "kind": e.kind,
        "amount_usd": e.amount_usd,
        "request_id": e.request_id,
        "note": e.note,
    }


def not_found(what: str) -> GatewayError:
    return GatewayError(404, what, code="not_found")
