"""Helicone's proxy style: the gateway key in `Helicone-Auth`, the caller's own provider key in `Authorization`
(or `x-api-key`), used for that one request when the organisation allows it (`allow_caller_provider_keys`).

The caller's key goes to exactly one provider, never to another one and never as a fallback to the gateway's or
the organisation's keys (the caller asked to pay with their key; and an OpenAI key must not be sent to Anthropic):
- the provider named in the first item of `model` (`gpt-4o-mini/openai`), else OpenAI for `Authorization` and
  Anthropic for `x-api-key` (Helicone's oai. and anthropic. proxies);
- the rest of a fallback chain is not used;
- the plan is built for this request only (never cached: the planner's cache is keyed by organisation and would
  hand one caller's key to the next request); the key lives in the request's Target, so `providers.scrub` removes
  it from upstream messages, and nothing writes it anywhere (the log row keeps no headers);
- it is a `byok` attempt with key id `caller` (no credits are charged; the BYOK egress policy applies);
- providers that sign requests (Bedrock, Vertex) cannot take a bare key: a 400 says so.
"""

from __future__ import annotations

from typing import Any

from ..errors import GatewayError
from ..security import looks_like_gateway_key
from .aliases import expand
from .keyring import Keyring, OrgKey
from .plan import Attempt, parse_model_field

KEY_ID = "caller"
_DEFAULT_PROVIDER = {"authorization": "openai", "x-api-key": "anthropic"}
_KEY_AUTH = frozenset({"bearer", "x-api-key", "api-key", "goog-api-key"})


def caller_key(headers: dict[str, str]) -> tuple[str, str] | None:
    """(header, key) of a provider key sent beside `Helicone-Auth`, or None. A gateway key is never one (clients
    often send the gateway key in both headers): it must not travel to a provider."""
    if not (headers.get("helicone-auth") or "").strip():
        return None
    for name in ("authorization", "x-api-key"):
        v = _unbearer(headers.get(name) or "")
        if v:
            if v == _unbearer(headers["helicone-auth"]) or looks_like_gateway_key(v):
                return None
            return name, v
    return None


def _unbearer(value: str) -> str:
    v = value.strip()
    while v[:6].lower() == "bearer" and (len(v) == 6 or v[6] in " \t"):
        v = v[6:].lstrip()
    return v


def caller_plan(
    planner: Any, model_field: str, header: str, key: str, org_id: str, policy: Any
) -> list[Attempt]:
    registry = planner.registry
    spec = parse_model_field(expand(model_field, planner.aliases), registry).specs[0]
    provider = registry.providers[spec.provider or _DEFAULT_PROVIDER[header]]
    if provider.auth not in _KEY_AUTH:
        raise GatewayError(
            400,
            f"A caller's own provider key cannot be used with {provider.id}: it signs its requests "
            f"({provider.auth}). Leave Authorization/x-api-key out to use the gateway's credentials.",
            code="caller_key_unsupported",
            param="model",
        )
    ring = Keyring(org_id, -1, {provider.id: (OrgKey(KEY_ID, provider.id, key, None, {}, policy=policy),)})
    return planner.plan_once(f"{spec.model}/{provider.id}/{KEY_ID}", ring)
