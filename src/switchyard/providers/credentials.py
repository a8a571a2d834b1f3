"""What an organisation's own key (BYOK) of a wire format carries, declared by the format's provider class.

`Provider.credentials` is a `CredentialSpec`; the admin API, the CLI and the dashboard validate and seal new keys
with it (`admin/provider_keys.py`), the keyring opens stored ones with it (`pipeline/keyring.py`), and the BYOK
egress policy takes its built-in host allow-list and key check from it (`pipeline/byok_egress.py`). Nothing
outside `providers/` names a wire format to decide what a key looks like.

A key is sealed as the secret itself, or — for formats whose credentials have several secret parts (an AWS access
key pair with an optional session token) — as a JSON object of the parts. Pure: no I/O, nothing logged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson


class CredentialError(ValueError):
    """A key's credentials are malformed; `param` names the field (`config.<name>` or `key`)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True, slots=True)
class KeyPair:
    """Credentials in two halves (AWS: access key id + secret access key): the key holds one half and the config
    field of the other names it; `extras` are further secret fields sealed with the pair (a session token)."""

    id_field: str  # becomes the Target's api_key
    secret_field: str  # goes to the Target's config
    extras: tuple[str, ...] = ()  # go to the Target's config too
    auth: str = "bearer"  # the Target's auth scheme for a paired key (e.g. "aws-sigv4")


@dataclass(frozen=True, slots=True)
class Opened:
    """A stored key opened for a Target: the api_key, the secret config parts, and an auth override (or None)."""

    api_key: str = field(repr=False)
    secret_config: Mapping[str, str] = field(repr=False)
    auth: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialSpec:
    #: visible config names a key of this format may carry (stored as they are and shown; base_url → Target)
    config: frozenset[str] = frozenset({"base_url"})
    #: credentials in two halves, sealed together; None: the key is the whole secret
    pair: KeyPair | None = None
    #: auth scheme of a key sealed alone, when it differs from the provider's (a Bedrock API key is a bearer token)
    bare_auth: str | None = None
    #: host patterns a key's base_url/endpoint may point at without operator configuration (byok_egress)
    egress_hosts: tuple[str, ...] = ()
    #: why a key string is unacceptable for this format (e.g. a file path where credentials JSON is due), or None
    key_problem: Callable[[str], str | None] | None = None

    @property
    def secret_fields(self) -> frozenset[str]:
        """Config names that are secret parts of the credentials: sealed with the key, never stored in config."""
        if self.pair is None:
            return frozenset()
        return frozenset({self.pair.id_field, self.pair.secret_field, *self.pair.extras})

    def seal(self, key: str, fields: Mapping[str, str] | None = None) -> str:
        """The plaintext to encrypt for `key` and its secret config `fields` (already split from the visible
        config). Raises CredentialError naming the field."""
        if not fields:
            return key
        pair = self.pair
        unknown = sorted(set(fields) - self.secret_fields)
        if pair is None or unknown:
            name = unknown[0] if unknown else sorted(fields)[0]
            raise CredentialError(f"config.{name}", f"config.{name}: not a credential field of this provider")
        given_id, given_secret = fields.get(pair.id_field), fields.get(pair.secret_field)
        if given_id and given_secret:
            raise CredentialError(
                f"config.{pair.id_field}",
                f"config.{pair.id_field}: give {pair.id_field} or {pair.secret_field}, not both; 'key' holds "
                "the other half of the pair",
            )
        if not given_id and not given_secret:
            name = sorted(fields)[0]
            raise CredentialError(
                f"config.{name}",
                f"config.{name}: needs config.{pair.secret_field} (with the {pair.id_field} as 'key') or "
                f"config.{pair.id_field} (with the secret as 'key')",
            )
        parts = {pair.id_field: given_id or key, pair.secret_field: given_secret or key}
        for name in pair.extras:
            if fields.get(name):
                parts[name] = fields[name]
        return orjson.dumps(parts).decode()

    def open(self, plain: str) -> Opened:
        """A decrypted secret as `seal` made it (or as older versions did: a JSON object with `api_key`/`key`)."""
        if plain.startswith("{"):
            try:
                parts: Any = orjson.loads(plain)
            except orjson.JSONDecodeError:
                parts = None
            if isinstance(parts, dict) and parts.get("type") != "service_account":  # Vertex JSON is the key
                pair = self.pair
                if pair is not None and parts.get(pair.id_field):
                    secret = {pair.secret_field: str(parts.get(pair.secret_field) or "")}
                    secret.update({n: str(parts[n]) for n in pair.extras if parts.get(n)})
                    return Opened(str(parts[pair.id_field]), secret, pair.auth)
                if parts.get("api_key") or parts.get("key"):
                    return Opened(str(parts.get("api_key") or parts.get("key")), {})
            return Opened(plain, {})
        return Opened(plain, {}, self.bare_auth)
