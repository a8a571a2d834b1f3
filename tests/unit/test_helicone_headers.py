"""Helicone headers as ASGI hands them over (raw bytes): UTF-8 text decoded as UTF-8, latin-1 as the fallback."""

from __future__ import annotations

import pytest

from switchyard.pipeline.headers import header_map, parse_helicone, parse_helicone_names, read_headers


def test_utf8_property_user_and_session_values_are_decoded_as_utf8():
    raw = [
        (b"helicone-property-city", "Zürich".encode()),
        (b"helicone-property-place", "東京".encode()),
        (b"helicone-user-id", "Jürgen".encode()),
        (b"helicone-session-name", "Café ☕".encode()),
    ]
    h = parse_helicone(header_map(raw))
    assert h.properties["city"] == "Zürich" and h.properties["place"] == "東京"
    assert h.user_id == "Jürgen" and h.session_name == "Café ☕"


def test_bytes_that_are_not_utf8_fall_back_to_latin1():
    h = parse_helicone(header_map([(b"helicone-property-city", "Zürich".encode("latin-1"))]))
    assert h.properties["city"] == "Zürich"


def test_other_headers_stay_latin1_so_they_forward_byte_for_byte():
    headers = header_map([(b"anthropic-beta", "é".encode())])
    assert headers["anthropic-beta"].encode("latin-1") == "é".encode()


# -- one pass over the raw headers (read_headers) gives what header_map + parse_helicone gave --------------------


def _reference_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """header_map as it was written before read_headers (every name decoded, every name prefix-tested)."""
    out: dict[str, str] = {}
    for k, v in raw:
        name = k.decode("latin-1")
        if name not in out:
            try:
                text = v.decode("utf-8") if name.startswith("helicone-") else v.decode("latin-1")
            except UnicodeDecodeError:
                text = v.decode("latin-1")
            out[name] = text
    return out


CASES = [
    [],
    [(b"host", b"x"), (b"authorization", b"Bearer k"), (b"content-type", b"application/json")],
    [(b"host", b"a"), (b"host", b"b")],  # repeated: the first value
    [(b"helicone-user-id", b"u1"), (b"helicone-user-id", b"u2")],
    [
        (b"helicone-property-a", b""),
        (b"helicone-property-", b"x"),
        (b"helicone-user-id", b""),
    ],  # empty values
    [(b"Host", b"upper"), (b"host", b"lower"), (b"Helicone-User-Id", "Jürgen".encode())],  # names as sent
    [(b"x-api-key", "é".encode()), (b"helicone-property-city", "Zürich".encode("latin-1"))],
    [(b"helicone-property-helicone-user-id", b"prop"), (b"helicone-user-id", b"header")],
    [(b"helicone-session-id", b"s"), (b"helicone-property-p", b"1"), (b"helicone-omit-request", b" TRUE ")],
    [(b"\xe9t\xe9", b"\xff"), (b"helicone-\xe9", b"\xe9"), (b"helicone-", b"v")],
    [
        (b"helicone-request-id", b" 0B9E3C8A-55F4-4C2D-9A71-3E5D1F2A6B7C "),
        (b"helicone-stripe-customer-id", b"c"),
    ],
]


@pytest.mark.parametrize("raw", CASES)
def test_read_headers_is_header_map_and_parse_helicone(raw: list[tuple[bytes, bytes]]) -> None:
    headers, names = read_headers(raw)
    assert headers == _reference_map(raw) and list(headers) == list(_reference_map(raw))  # values and order
    assert header_map(raw) == headers
    assert names == [n for n in headers if n.startswith("helicone-")]
    one, two = parse_helicone_names(headers, names), parse_helicone(headers)
    one.uid = two.uid = ""  # made per call
    if not one.caller_id:
        one.request_id = two.request_id = ""
    assert one == two


def test_the_helicone_fields_of_one_pass() -> None:
    headers, names = read_headers(
        [
            (b"host", b"h"),
            (b"helicone-property-team", b"a"),
            (b"helicone-session-id", b"s1"),
            (b"helicone-property-helicone-session-id", b"p"),
            (b"helicone-user-id", b"u"),
            (b"helicone-user-id", b"ignored"),
            (b"helicone-omit-response", b"true"),
        ]
    )
    h = parse_helicone_names(headers, names)
    assert h.user_id == "u" and h.session_id == "s1" and h.omit_response and not h.omit_request
    assert h.properties == {"team": "a", "helicone-session-id": "s1"}  # the header wins over the property
    assert not h.caller_id and h.request_id == h.uid
