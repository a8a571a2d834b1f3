"""Where an organisation's own provider keys (BYOK) may send requests: the egress policy.

A BYOK key carries config that builds the upstream URL (`base_url`, `endpoint`, Azure's `resource`, the
Bedrock and Vertex `region`). Left open, whoever can add a key chooses the host the gateway connects to: a
server-side request forgery from the gateway's network position (cloud metadata at 169.254.169.254, loopback
admin ports, RFC 1918 services), and the request carries the operator's static provider headers.

The policy (documented in README "BYOK endpoints"):
- A BYOK request may go to the provider's host as the operator configured it (`providers.<id>.base_url`, else
  the registry's), or to a host matching the provider's allow-list: `security.byok_endpoints.<provider id>`
  when set, else the built-in list of the provider's wire format (`credentials.egress_hosts` on its provider
  class: Azure, Bedrock and Vertex cloud hosts; every other format has none, so e.g. an OpenAI BYOK key cannot move off the operator's OpenAI host), plus the
  patterns listed under `security.byok_endpoints."*"` for every provider.
- A pattern is `[http://|https://]host[:port]`: the scheme defaults to https and the port to the scheme's
  default (`:*` is any port); `*` in the host matches part of one DNS label (`[a-z0-9-]+`). IP literals (in
  every form the resolver accepts: `2852039166` is 169.254.169.254) and `localhost` match only a pattern
  that names them exactly.
- `base_url`/`endpoint` with user info, a query, a fragment, a backslash, a percent sign or white space are
  refused; values pasted into host names (`resource`, `region`, `location`) must be one DNS label.
- A key must pass its format's own check (`credentials.key_problem`): a Vertex key must be the credentials JSON
  (whose `token_uri` is Google's) or an access token, never a path to a file on the gateway's host (that would
  read the operator's own credentials).

Checked when a key is added or changed (admin API, CLI, dashboard: a 400 naming the field) and on every
attempt against the final URL (`Target.egress`), so a key stored before the policy, or edited in SQL, is
refused too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import bad_request
from ..providers.base import UpstreamError
from ..providers.egress_patterns import Pattern, url_origin
from ..providers.formats import credentials

_URL_SHAPE = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:{}]+(/[A-Za-z0-9._~!$&'()*+,;=:@{}/-]*)?$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9.:-]{0,127}$")
_HOST_LABEL_KEYS = ("resource", "region", "location")


@dataclass(frozen=True, slots=True)
class Egress:
    """The hosts one provider's BYOK requests may reach (carried on `Target.egress`)."""

    provider: str
    patterns: tuple[Pattern, ...]
    operator_origin: tuple[str, str, int] | None

    def refusal(self, url: str) -> str | None:
        """None when `url` may be called with an organisation's key, else why not (no secret in it)."""
        origin = url_origin(url)
        parts = urlsplit(url) if origin else None
        if origin is None or parts is None or parts.username is not None or parts.password is not None:
            return f"the {self.provider} endpoint of this BYOK key is not a plain http(s) URL"
        if origin == self.operator_origin or any(p.matches(*origin) for p in self.patterns):
            return None
        scheme, host, port = origin
        return (
            f"the {self.provider} BYOK key points at {scheme}://{host}:{port}, which security.byok_endpoints "
            f"does not allow for {self.provider}"
        )

    def check(self, url: str) -> None:
        why = self.refusal(url)
        if why is not None:
            raise UpstreamError(403, "auth", f"Refused to call the upstream: {why}.")


class ByokPolicy:
    """Built from `security.byok_endpoints` and the registry (each provider's format and operator host)."""

    def __init__(self, endpoints: Mapping[str, list[str]] | None, registry: Any) -> None:
        self._registry = registry
        self._cache: dict[tuple[str, str, str | None], Egress] = {}  # one entry per provider in the registry
        self._configured = {
            pid: tuple(Pattern.parse(p) for p in pats) for pid, pats in (endpoints or {}).items()
        }

    def format_of(self, provider_id: str) -> str | None:
        """The wire format of a provider id in the registry (None without a registry or for an unknown id)."""
        info = self._registry.provider(provider_id) if self._registry is not None else None
        return info.format if info is not None else None

    def egress(self, provider_id: str, fmt: str, base_url: str | None) -> Egress:
        key = (provider_id, fmt, base_url)
        found = self._cache.get(key)
        if found is None:
            operator = url_origin(base_url) if base_url and "{" not in base_url else None
            found = self._cache[key] = Egress(provider_id, self.patterns(provider_id, fmt), operator)
        return found

    def patterns(self, provider_id: str, fmt: str) -> tuple[Pattern, ...]:
        """The provider's own list (configured, else its format's `credentials.egress_hosts`) plus the `"*"` list
        of all."""
        own = self._configured.get(provider_id)
        if own is None:
            own = tuple(Pattern.parse(p) for p in credentials(fmt).egress_hosts)
        return own + self._configured.get("*", ())

    # -- admission: the admin API, the CLI and the dashboard --------------------------------------------
    def check_key(self, provider_id: str, config: Mapping[str, Any], key: str | None) -> None:
        """Raise a 400 naming the field when a provider key's config (or a Vertex key) breaks the policy."""
        info = self._registry.provider(provider_id)
        fmt = info.format if info is not None else ""
        egress = self.egress(provider_id, fmt, info.base_url if info is not None else None)
        for name in _HOST_LABEL_KEYS:
            value = config.get(name)
            if value is not None and not _LABEL.match(str(value)):
                raise bad_request(
                    f"config.{name}: must be one DNS label (letters, digits and '-')", param=f"config.{name}"
                )
        project = config.get("project")
        if project is not None and not _PROJECT.match(str(project)):
            raise bad_request("config.project: not a Google Cloud project id", param="config.project")
        for name in ("base_url", "endpoint"):
            value = config.get(name)
            if value is None:
                continue
            url = str(value).strip().replace("{region}", "us-east-1")
            if not _URL_SHAPE.match(url):
                raise bad_request(
                    f"config.{name}: must be a plain http(s) URL (no user info, query, fragment, "
                    "spaces or percent signs)",
                    param=f"config.{name}",
                )
            why = egress.refusal(url)
            if why is not None:
                raise bad_request(f"config.{name}: {why}", param=f"config.{name}")
        check = credentials(fmt).key_problem
        if check is not None and key is not None:  # e.g. a Vertex key that is a file path on this host
            problem = check(key)
            if problem:
                raise bad_request(f"key: {problem}", param="key")
