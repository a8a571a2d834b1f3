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


def parse_helicone(headers: dict[str, str]) -> HeliconeHeaders:
    rid = (headers.get("helicone-request-id") or "").strip()
    # Helicone accepts only UUIDs here and silently generates one otherwise; we do the same, so a stored id is
    # always a canonical lowercase UUID (no NUL bytes, no look-alike spellings of one id).
    uid = new_request_id()
    caller = _UUID.fullmatch(rid) is not None
    h = HeliconeHeaders(request_id=rid.lower() if caller else uid, uid=uid, caller_id=caller)
    props = h.properties
    for name, value in headers.items():
        if name.startswith(_PROPERTY) and len(name) > len(_PROPERTY):
            props[name[len(_PROPERTY) :]] = value
    h.user_id = headers.get("helicone-user-id") or None
    h.session_id = headers.get("helicone-session-id") or None
    h.session_path = headers.get("helicone-session-path") or None
    h.session_name = headers.get("helicone-session-name") or None
    h.prompt_id = headers.get("helicone-prompt-id") or None
    h.omit_request = _true(headers.get("helicone-omit-request"))
    h.omit_response = _true(headers.get("helicone-omit-response"))
    # Helicone mirrors session and prompt headers into properties so they can be filtered like any property.
    for header, prop in (
        ("helicone-session-id", "helicone-session-id"),
        ("helicone-session-path", "helicone-session-path"),
        ("helicone-session-name", "helicone-session-name"),
        ("helicone-prompt-id", "helicone-prompt-id"),
        ("helicone-stripe-customer-id", "helicone-stripe-customer-id"),  # metering (stores/usage_report.py)
    ):
        if headers.get(header):
            props[prop] = headers[header]
    return h
