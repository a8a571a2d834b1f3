"""Host patterns for where upstream requests may go (`security.byok_endpoints`, a wire format's built-in
`credentials.egress_hosts`), and the origin of a URL. Pure: the egress policy (`pipeline/byok_egress.py`) and the
configuration's validation (`config/access.py`) parse patterns with this one parser.

A pattern is `[http://|https://]host[:port]`: the scheme defaults to https and the port to the scheme's default
(`:*` is any port); `*` in the host matches part of one DNS label (`[a-z0-9-]+`). IP literals (in every form the
resolver accepts: `2852039166` is 169.254.169.254) and `localhost` match only a pattern that names them exactly.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORT = {"http": 80, "https": 443}


def is_ip_literal(host: str) -> bool:
    """True for any host the resolver would read as an address rather than a name (inet_aton's forms too)."""
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        socket.inet_aton(host)  # 2852039166, 0xa9.0xfe.0xa9.0xfe, 169.254.43518 ...
        return True
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class Pattern:
    scheme: str
    host: re.Pattern[str] | str  # a compiled glob, or an exact host
    port: int | None  # None: any port

    @classmethod
    def parse(cls, text: str) -> Pattern:
        raw = text.strip().lower()
        scheme = "https"
        if "://" in raw:
            scheme, raw = raw.split("://", 1)
            if scheme not in DEFAULT_PORT:
                raise ValueError(f"byok endpoint pattern {text!r}: scheme must be http or https")
        host, port = raw, str(DEFAULT_PORT[scheme])
        if host.startswith("["):  # [v6]:port
            end = host.find("]")
            host, rest = host[1:end], host[end + 1 :]
            port = rest[1:] if rest.startswith(":") else port
        elif ":" in host:
            host, port = host.rsplit(":", 1)
        if not host or not re.fullmatch(r"[a-z0-9.*:-]+", host) or (port != "*" and not port.isdigit()):
            raise ValueError(f"byok endpoint pattern {text!r}: expected [scheme://]host[:port|:*]")
        if "*" in host:
            if is_ip_literal(host.replace("*", "0")):
                raise ValueError(f"byok endpoint pattern {text!r}: wildcards are not allowed in IP addresses")
            glob = re.compile("^" + re.escape(host).replace(r"\*", "[a-z0-9-]+") + "$")
            return cls(scheme, glob, None if port == "*" else int(port))
        return cls(scheme, host, None if port == "*" else int(port))

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme or (self.port is not None and port != self.port):
            return False
        if isinstance(self.host, str):
            return host == self.host
        return not is_ip_literal(host) and host != "localhost" and bool(self.host.match(host))


def url_origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or DEFAULT_PORT.get(scheme, 0)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    return (scheme, host, port) if scheme in DEFAULT_PORT and host else None
