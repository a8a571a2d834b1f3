"""Egress through an HTTP proxy, configured the way Go's net/http and curl read the environment. Pure.

`HTTPS_PROXY` (or `https_proxy`) is used for https URLs, `HTTP_PROXY` (or `http_proxy`) for http URLs; the
upper-case name wins when both are set. A value is `http://[user:password@]host[:port]` (the scheme may be
left out; only http proxies are supported). `NO_PROXY` (or `no_proxy`) is a comma- or space-separated list:
`*` (no proxy at all), a host name (`example.com` also matches its subdomains, `.example.com` only the
subdomains), an IP address or CIDR block, each optionally with `:port`. As in Go, `localhost` and loopback
addresses are never proxied.

Only the parsing and matching live here; the client (`http1.py`) sends CONNECT or the absolute form.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization value, from the user and password of the URL

    def __repr__(self) -> str:  # never print the credentials
        return f"Proxy({self.host}:{self.port})"


@dataclass(frozen=True, slots=True)
class _Bypass:
    host: str | None = None  # exact host or domain (lower case, no leading dot)
    subdomains_only: bool = False
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int | None = None

    def matches(self, host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return ip is not None and ip in self.network
        assert self.host is not None
        if host.endswith("." + self.host):
            return True
        return host == self.host and not self.subdomains_only


class ProxySettings:
    """The proxies of one process, from an environment mapping (read once, when the transport is built)."""

    def __init__(self, http: Proxy | None = None, https: Proxy | None = None, no_proxy: str = "") -> None:
        self.http = http
        self.https = https
        self._all = False
        self._bypass: list[_Bypass] = []
        for raw in no_proxy.replace(",", " ").split():
            if raw == "*":
                self._all = True
            else:
                self._bypass.append(_bypass_entry(raw.lower()))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProxySettings:
        def get(name: str) -> str:
            return (env.get(name.upper()) or env.get(name.lower()) or "").strip()

        return cls(
            _proxy(get("http_proxy"), "HTTP_PROXY"),
            _proxy(get("https_proxy"), "HTTPS_PROXY"),
            get("no_proxy"),
        )

    def proxy_for(self, scheme: str, host: str, port: int) -> Proxy | None:
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or self._all:
            return None
        host = host.lower().rstrip(".")
        try:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
                host.split("%", 1)[0]
            )
        except ValueError:
            ip = None
        if host == "localhost" or host.endswith(".localhost") or (ip is not None and ip.is_loopback):
            return None
        if any(b.matches(host, ip, port) for b in self._bypass):
            return None
        return proxy


def _proxy(value: str, name: str) -> Proxy | None:
    if not value:
        return None
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme.lower() != "http":
        raise ValueError(f"{name}: only http:// proxies are supported (got a {parts.scheme}:// URL)")
    try:
        port = parts.port or 80
    except ValueError:
        raise ValueError(f"{name}: the proxy URL has an invalid port") from None
    if not parts.hostname:
        raise ValueError(f"{name}: the proxy URL has no host")
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(pair).decode("ascii")
    return Proxy(parts.hostname, port, auth)


def _bypass_entry(raw: str) -> _Bypass:
    port = None
    host = raw
    if raw.startswith("["):  # [v6]:port or [v6]
        host, _, rest = raw[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    elif raw.count(":") == 1:
        name, _, p = raw.partition(":")
        if p.isdigit():
            host, port = name, int(p)
    try:
        return _Bypass(network=ipaddress.ip_network(host, strict=False), port=port)
    except ValueError:
        pass
    sub = host.startswith(".") or host.startswith("*.")
    return _Bypass(host=host.lstrip("*").lstrip(".").rstrip("."), subdomains_only=sub, port=port)
