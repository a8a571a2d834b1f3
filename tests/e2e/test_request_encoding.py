"""What a caller's bytes mean, end to end (real `switchyard serve`): compressed bodies (`Content-Encoding` gzip and
deflate inflated under the body limit, a zip bomb refused with 413, other codings 415) and Helicone headers in
UTF-8 (properties stored and queried back as the caller wrote them, not as mojibake)."""

from __future__ import annotations

import gzip
import time
import zlib

import httpx
import orjson
import pytest

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
LIMIT = 1024 * 1024  # server.max_body_bytes in support.gateway.default_config


def post(gateway, body: bytes, headers: dict[str, str] | list[tuple[str, bytes]]) -> httpx.Response:
    base = [("authorization", f"Bearer {gateway.key}".encode()), ("content-type", b"application/json")]
    extra = list(headers.items()) if isinstance(headers, dict) else headers
    return httpx.post(f"{gateway.url}/v1/chat/completions", content=body, headers=base + extra, timeout=30)


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    "coding, pack",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 defines deflate
        ("deflate", raw_deflate),  # what some clients send as deflate
    ],
)
def test_a_compressed_body_is_inflated(gateway, upstream, coding, pack):
    marker = f"compressed-{coding}-{time.time_ns()}"
    body = orjson.dumps({**CHAT, "messages": [{"role": "user", "content": marker}]})
    r = post(gateway, pack(body), {"content-encoding": coding})
    assert r.status_code == 200, r.text
    assert upstream.last("/chat/completions").body["messages"][0]["content"] == marker
    assert "content-encoding" not in upstream.last("/chat/completions").headers


def test_gzip_then_deflate_is_undone_in_reverse_order(gateway, upstream):
    body = orjson.dumps(CHAT)
    r = post(gateway, zlib.compress(gzip.compress(body)), {"content-encoding": "gzip, deflate"})
    assert r.status_code == 200, r.text


def test_a_zip_bomb_is_413_and_the_gateway_stays_small(gateway):
    # 64 MiB of spaces inside a JSON string compress to ~64 KiB: under the 1 MiB limit on the wire, far over it
    # inflated. The gateway stops inflating one byte past the limit.
    bomb = gzip.compress(b'{"model": "gpt-4o-mini", "messages": [], "x": "' + b" " * (64 * LIMIT) + b'"}', 9)
    assert len(bomb) < LIMIT
    r = post(gateway, bomb, {"content-encoding": "gzip"})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "request_too_large"
    assert str(LIMIT) in r.json()["error"]["message"]
    assert post(gateway, orjson.dumps(CHAT), {}).status_code == 200


def test_an_inflated_body_just_under_the_limit_is_served(gateway):
    pad = LIMIT - len(orjson.dumps({**CHAT, "x": ""})) - 1
    body = orjson.dumps({**CHAT, "x": " " * pad})
    assert len(body) < LIMIT
    r = post(gateway, gzip.compress(body), {"content-encoding": "gzip"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("coding", ["br", "zstd", "compress"])
def test_an_unsupported_coding_is_415_naming_it(gateway, coding):
    r = post(gateway, b"\x00\x01 not json", {"content-encoding": coding})
    assert r.status_code == 415, r.text
    err = r.json()["error"]
    assert err["code"] == "unsupported_content_encoding"
    assert repr(coding) in err["message"] and "gzip" in err["message"]


def test_a_corrupt_gzip_body_is_400_naming_the_coding(gateway):
    r = post(gateway, gzip.compress(orjson.dumps(CHAT))[:-12], {"content-encoding": "gzip"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_content_encoding"
    assert "gzip" in r.json()["error"]["message"]


def test_a_gzip_body_on_the_anthropic_surface(gateway, upstream):
    body = orjson.dumps(
        {"model": "claude-sonnet-4", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    )
    r = httpx.post(
        f"{gateway.url}/v1/messages",
        content=gzip.compress(body),
        timeout=30,
        headers={
            "x-api-key": gateway.key,
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
            "content-encoding": "gzip",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "message"


# -- UTF-8 in Helicone headers -------------------------------------------------------------------------------


def test_utf8_properties_round_trip_through_the_query_api(gateway):
    run = f"utf8-{time.time_ns()}"
    r = post(
        gateway,
        orjson.dumps(CHAT),
        [
            ("helicone-property-run", run.encode()),
            (
                "helicone-property-city",
                "Zürich".encode(),
            ),  # raw UTF-8 bytes on the wire, as clients send them
            ("helicone-property-place", "東京".encode()),
            ("helicone-user-id", "Jürgen".encode()),
        ],
    )
    assert r.status_code == 200, r.text
    row = gateway.wait_row(r.headers["helicone-id"])
    props = row.get("properties") or row.get("request_properties")
    assert props["city"] == "Zürich" and props["place"] == "東京"
    found = gateway.query(
        {
            "filter": {
                "left": {"properties": {"run": {"equals": run}}},
                "operator": "and",
                "right": {"properties": {"place": {"equals": "東京"}}},
            }
        }
    )
    assert [x["request_id"] for x in found] == [r.headers["helicone-id"]]
    by_city = gateway.query({"filter": {"properties": {"city": {"equals": "Zürich"}}}})
    assert r.headers["helicone-id"] in {x["request_id"] for x in by_city}
    users = gateway.query(
        {
            "filter": {
                "left": {"properties": {"run": {"equals": run}}},
                "operator": "and",
                "right": {"request_response_rmt": {"user_id": {"equals": "Jürgen"}}},
            }
        }
    )
    assert len(users) == 1


def test_a_latin1_property_value_is_still_read_as_latin1(gateway):
    r = post(gateway, orjson.dumps(CHAT), [("helicone-property-city", "Zürich".encode("latin-1"))])
    assert r.status_code == 200, r.text
    row = gateway.wait_row(r.headers["helicone-id"])
    props = row.get("properties") or row.get("request_properties")
    assert props["city"] == "Zürich"
