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


def header_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers (lowercase names) → dict; a repeated header keeps its first value.

    ASGI hands header values over as the raw bytes. Helicone's own headers (properties, user, session names)
    carry the caller's text, which clients send as UTF-8 ("Zürich", "東京"): those are decoded as UTF-8, and as
    latin-1 only when they are not valid UTF-8 (a client that really sent latin-1). Every other header is
    latin-1, as HTTP defines it, so it can be forwarded upstream byte for byte."""
    out: dict[str, str] = {}
    for k, v in raw:
        name = k.decode("latin-1")
        if name not in out:
            out[name] = _text(v) if name.startswith("helicone-") else v.decode("latin-1")
    return out


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
    # Helicone accepts only UUIDs as Helicone-Request-Id and silently generates one otherwise; we do the same, so
    # a stored id is always a canonical lowercase UUID (no NUL bytes, no look-alike spellings of one id).
    uid = new_request_id()
    h = HeliconeHeaders(request_id=uid, uid=uid)
    props = h.properties
    mirrored: list[tuple[str, str]] = []
    for name, value in headers.items():  # one pass; most requests carry no Helicone header at all
        if not name.startswith("helicone-"):
            continue
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
