"""Helicone headers as ASGI hands them over (raw bytes): UTF-8 text decoded as UTF-8, latin-1 as the fallback."""

from __future__ import annotations

from switchyard.pipeline.headers import header_map, parse_helicone


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
