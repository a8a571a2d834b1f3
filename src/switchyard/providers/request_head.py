"""What the upstream client puts on the wire before the body: the route of a URL and the request head. Pure.

Nothing invalid is ever sent: a URL whose request target is not plain visible ASCII (a space, a control
character, a non-ASCII character, a fragment), an unknown scheme, a bad host or port, a header name that is
not an RFC 9110 token, or a header value with a control character (CR, LF, NUL, ...) or a character outside
Latin-1 raises `ValueError` naming the problem; the client turns it into a clean upstream error.

Through an HTTP proxy (`egress_proxy.py`) an `http` URL is sent in absolute form to the proxy; an `https` URL
goes through a CONNECT tunnel and keeps the origin form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .egress_proxy import Proxy, ProxySettings

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # HTAB is allowed inside a field value
_TARGET = re.compile(r"/[\x21-\x22\x24-\x7e]*")  # visible ASCII without '#'
_REG_NAME = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=%-]+")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+")
_DEFAULT_PORT = {"http": 80, "https": 443}


def header_problem(name: str, value: str) -> str | None:
    """Why this header cannot be sent (None when it can)."""
    if not _TOKEN.fullmatch(name):
        return f"header name {name!r} is not a valid HTTP token"
    if _BAD_VALUE.search(value):
        return f"the value of header {name!r} contains a control character (CR, LF, NUL, ...)"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return f"the value of header {name!r} contains a character that HTTP/1.1 cannot carry"
    return None


@dataclass(frozen=True, slots=True)
class Route:
    """Where and how one URL is sent. `key` names the pool of connections that can carry it."""

    key: tuple[str, str, int]  # scheme, host, port of the origin
    target: str  # the request target: origin form, or absolute form through an HTTP proxy
    host_header: str
    proxy: Proxy | None
    tunnel: bool  # https through a proxy: CONNECT first, then TLS to the origin

    @property
    def connect_to(self) -> tuple[str, int]:
        return (self.proxy.host, self.proxy.port) if self.proxy else (self.key[1], self.key[2])


def route_for(url: str, proxies: ProxySettings) -> Route:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"invalid upstream URL: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT:
        raise ValueError(f"upstream URL scheme {parts.scheme!r} is not http or https")
    host = parts.hostname or ""
    ipv6 = ":" in host
    if not host or not (_IPV6.fullmatch(host) if ipv6 else _REG_NAME.fullmatch(host)):
        raise ValueError(f"upstream URL has an invalid host {host!r}")
    if "#" in url:
        raise ValueError(
            "upstream URL contains '#' (a fragment), which an unencoded value must have put there"
        )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not _TARGET.fullmatch(target):
        raise ValueError("upstream request target contains a space, a control or a non-ASCII character")
    port = port or _DEFAULT_PORT[scheme]
    authority = f"[{host}]" if ipv6 else host
    if parts.port is not None:
        authority = f"{authority}:{port}"
    proxy = proxies.proxy_for(scheme, host, port)
    absolute = proxy is not None and scheme == "http"
    return Route(
        (scheme, host, port),
        f"http://{authority}{target}" if absolute else target,
        authority,
        proxy,
        tunnel=proxy is not None and scheme == "https",
    )


_GOOD_NAMES: set[str] = set()  # header names already found to be tokens (a few dozen in practice; bounded)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # control characters other than HTAB, CR, LF
_MAX_HEADS = 1024
# Heads already checked and encoded, by (method, route, header items): the bytes before and after the
# Content-Length value. A pure function's results, kept for the usual case of the same provider headers on every
# request; bounded (cleared when full: per-request headers, as SigV4 signatures, only ever miss).
_HEADS: dict[tuple[str, int, tuple[tuple[str, str], ...]], tuple[Route, bytes, bytes]] = {}


def encode_head(method: str, route: Route, headers: dict[str, str], body_len: int) -> bytes:
    """The request line and header block. Raises ValueError for a header that cannot be sent.

    Checked as a whole, once: the block's only CR and LF are the line ends written here (a value's own CR or LF
    would add to their count), no other control byte is in it, and every name is a token (each name's check is
    remembered). A head already checked for the same method, route and headers is reused as it was encoded
    (the route object itself is kept with it, so its id cannot name another route)."""
    key = (method, id(route), tuple(headers.items()))
    known = _HEADS.get(key)
    if known is None or known[0] is not route:
        known = (route, *_encode_parts(method, route, headers))
        if len(_HEADS) >= _MAX_HEADS:
            _HEADS.clear()
        _HEADS[key] = known
    return b"%s%d%s" % (known[1], body_len, known[2])


def _encode_parts(method: str, route: Route, headers: dict[str, str]) -> tuple[bytes, bytes]:
    """The head around the Content-Length value (digits only: they change nothing in the checks)."""
    head = [f"{method} {route.target} HTTP/1.1\r\nhost: {route.host_header}\r\ncontent-length: 0\r\n"]
    lines = 4  # request line, host, content-length, the blank line
    if route.proxy is not None and not route.tunnel and route.proxy.authorization:
        head.append(f"proxy-authorization: {route.proxy.authorization}\r\n")
        lines += 1
    good = _GOOD_NAMES
    for k, v in headers.items():
        if k not in good:
            if not _TOKEN.fullmatch(k):
                raise ValueError(header_problem(k, v) or f"header {k!r} cannot be sent")
            if len(good) < 1024:
                good.add(k)
        head.append(f"{k}: {v}\r\n")
    head.append("\r\n")
    text = "".join(head)
    if (
        text.count("\n") != lines + len(headers)
        or text.count("\r") != lines + len(headers)
        or _CONTROL.search(text)
    ):
        bad = next((k for k, v in headers.items() if header_problem(k, v)), None)
        raise ValueError(header_problem(bad, headers[bad]) if bad else "the request head cannot be sent")
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        bad = next((k for k, v in headers.items() if header_problem(k, v)), "?")
        raise ValueError(header_problem(bad, headers.get(bad, "")) or "a header cannot be sent") from None
    cut = len(head[0]) - 3  # where the "0" of the first line is (Latin-1: a byte per character)
    return data[:cut], data[cut + 1 :]
