"""Helicone request headers → one parsed value per request (attribution, logging switches, request id)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..ids import new_request_id

_PROPERTY = "helicone-property-"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)


@dataclass(slots=True)
class HeliconeHeaders:
    request_id: str
    properties: dict[str, str] = field(default_factory=dict)
    user_id: str | None = None
    session_id: str | None = None
    session_path: str | None = None
    session_name: str | None = None
    prompt_id: str | None = None
    omit_request: bool = False
    omit_response: bool = False


def header_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers (lowercase names) → dict; a repeated header keeps its first value."""
    out: dict[str, str] = {}
    for k, v in raw:
        name = k.decode("latin-1")
        if name not in out:
            out[name] = v.decode("latin-1")
    return out


def _true(v: str | None) -> bool:
    return v is not None and v.strip().lower() == "true"


def parse_helicone(headers: dict[str, str]) -> HeliconeHeaders:
    rid = headers.get("helicone-request-id")
    # Helicone accepts only UUIDs here and silently generates one otherwise; we do the same so that a bad
    # value can never collide with another request's id.
    request_id = rid.lower() if rid and _UUID.match(rid.strip()) else new_request_id()
    h = HeliconeHeaders(request_id=request_id.strip())
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
    ):
        if headers.get(header):
            props[prop] = headers[header]
    return h
