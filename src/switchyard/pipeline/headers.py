"""Helicone request headers → one parsed value per request (attribution, logging switches, request id)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..ids import new_request_id

_PROPERTY = "helicone-property-"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)


@dataclass(slots=True)
class HeliconeHeaders:
    # The id the request is known by (the `Helicone-Id` answer header, the log row's id): the caller's
    # Helicone-Request-Id when it is a UUID, else `uid`. Unique within an organisation, never across them.
    request_id: str
    uid: str = (
        ""  # made by the server for every request (unpredictable); the log row's id if the caller's clashes
    )
    caller_id: bool = False  # request_id was chosen by the caller (so it may clash with another request's)
    duplicate_of: str | None = None  # the caller's id, when it clashed and this request got `uid` instead
    properties: dict[str, str] = field(default_factory=dict)
    user_id: str | None = None
    session_id: str | None = None
    session_path: str | None = None
    session_name: str | None = None
    prompt_id: str | None = None
    omit_request: bool = False
    omit_response: bool = False


# Header names most requests carry, decoded once here (ASGI names are lowercase bytes): a request's usual headers
# cost a dict lookup each instead of a decode and a prefix test. None of them is a Helicone header.
_PLAIN = {
    n.encode(): n
    for n in (
        "host",
        "user-agent",
        "accept",
        "accept-encoding",
        "accept-language",
        "authorization",
        "connection",
        "content-length",
        "content-type",
        "x-api-key",
        "anthropic-version",
        "anthropic-beta",
        "openai-organization",
        "openai-project",
        "x-stainless-arch",
        "x-stainless-lang",
        "x-stainless-os",
        "x-stainless-package-version",
        "x-stainless-runtime",
        "x-stainless-runtime-version",
        "x-stainless-retry-count",
        "x-stainless-read-timeout",
        "x-stainless-async",
    )
}


def header_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers (lowercase names) → dict; a repeated header keeps its first value.

    ASGI hands header values over as the raw bytes. Helicone's own headers (properties, user, session names)
    carry the caller's text, which clients send as UTF-8 ("Zürich", "東京"): those are decoded as UTF-8, and as
    latin-1 only when they are not valid UTF-8 (a client that really sent latin-1). Every other header is
    latin-1, as HTTP defines it, so it can be forwarded upstream byte for byte."""
    return read_headers(raw)[0]


def read_headers(raw: list[tuple[bytes, bytes]]) -> tuple[dict[str, str], list[str]]:
    """`header_map`, and the names in it that start with `helicone-` (in order), from one pass over the raw
    headers: `parse_helicone_names` then examines only those."""
    out: dict[str, str] = {}
    helicone: list[str] = []
    for k, v in raw:
        name = _PLAIN.get(k)
        if name is None:
            name = k.decode("latin-1")
            if name.startswith("helicone-"):
                if name not in out:
                    out[name] = _text(v)
                    helicone.append(name)
                continue
        if name not in out:
            out[name] = v.decode("latin-1")
    return out, helicone


def _text(v: bytes) -> str:
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        return v.decode("latin-1")


def canonical_request_id(value: str) -> str | None:
    """A request id as stored (lowercase UUID), or None when `value` cannot be one (no lookup needed)."""
    value = value.strip()
    return value.lower() if _UUID.fullmatch(value) else None


def _true(v: str | None) -> bool:
    return v is not None and v.strip().lower() == "true"


# Helicone headers read into fields of HeliconeHeaders (values with `or None`: an empty header is no value) and
# those also mirrored into properties so they can be filtered like any property (as Helicone does).
_FIELDS = {
    "helicone-user-id": ("user_id", False),
    "helicone-session-id": ("session_id", True),
    "helicone-session-path": ("session_path", True),
    "helicone-session-name": ("session_name", True),
    "helicone-prompt-id": ("prompt_id", True),
    "helicone-stripe-customer-id": (None, True),  # metering (stores/usage_report.py)
}


def parse_helicone(headers: dict[str, str]) -> HeliconeHeaders:
    return parse_helicone_names(headers, [name for name in headers if name.startswith("helicone-")])


def parse_helicone_names(headers: dict[str, str], names: list[str]) -> HeliconeHeaders:
    """The Helicone headers of `headers`, whose Helicone-prefixed names are `names` (`read_headers`), in order."""
    # Helicone accepts only UUIDs as Helicone-Request-Id and silently generates one otherwise; we do the same, so
    # a stored id is always a canonical lowercase UUID (no NUL bytes, no look-alike spellings of one id).
    uid = new_request_id()
    h = HeliconeHeaders(uid, uid)  # request_id, uid
    if not names:  # most requests carry no Helicone header at all
        return h
    props = h.properties
    mirrored: list[tuple[str, str]] = []
    for name in names:
        value = headers[name]
        if name.startswith(_PROPERTY):
            if len(name) > len(_PROPERTY):
                props[name[len(_PROPERTY) :]] = value
        elif name == "helicone-request-id":
            rid = value.strip()
            if _UUID.fullmatch(rid) is not None:
                h.request_id, h.caller_id = rid.lower(), True
        elif name == "helicone-omit-request":
            h.omit_request = _true(value)
        elif name == "helicone-omit-response":
            h.omit_response = _true(value)
        elif (spec := _FIELDS.get(name)) is not None and value:
            attr, mirror = spec
            if attr is not None:
                setattr(h, attr, value)
            if mirror:
                mirrored.append((name, value))
    for name, value in mirrored:  # after the properties: the header wins over a property of the same name
        props[name] = value
    return h
