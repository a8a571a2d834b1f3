"""A request head checked once is reused (providers/request_head.py `_HEADS`): the same bytes as a fresh
encoding for any body length, a refused header is refused every time, and a route is never mistaken for
another one."""

from __future__ import annotations

import pytest

from switchyard.providers import request_head as mod
from switchyard.providers.egress_proxy import ProxySettings
from switchyard.providers.request_head import encode_head, route_for


def fresh(method, route, headers, n) -> bytes:
    before, after = mod._encode_parts(method, route, headers)
    return before + str(n).encode() + after


def test_a_reused_head_is_the_fresh_encoding_with_its_own_length() -> None:
    route = route_for("http://up.example:8080/v1/chat/completions?x=1", ProxySettings())
    headers = {"content-type": "application/json", "authorization": "Bearer sk-1"}
    first = encode_head("POST", route, headers, 17)
    assert first == (
        b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nhost: up.example:8080\r\ncontent-length: 17\r\n"
        b"content-type: application/json\r\nauthorization: Bearer sk-1\r\n\r\n"
    )
    for n in (0, 9, 10, 123456789):
        assert encode_head("POST", route, dict(headers), n) == fresh("POST", route, headers, n)
    assert encode_head("GET", route, headers, 0).startswith(b"GET ")
    other = {**headers, "authorization": "Bearer sk-2"}
    assert b"sk-2" in encode_head("POST", route, other, 1)
    reordered = {"authorization": "Bearer sk-1", "content-type": "application/json"}
    assert encode_head("POST", route, reordered, 1).index(b"authorization") < encode_head(
        "POST", route, reordered, 1
    ).index(b"content-type")


def test_a_bad_header_is_refused_every_time() -> None:
    route = route_for("http://up.example/v1", ProxySettings())
    for _ in range(3):
        with pytest.raises(ValueError, match="control character"):
            encode_head("POST", route, {"x-a": "1\r\nx-b: 2"}, 0)
        with pytest.raises(ValueError, match="not a valid HTTP token"):
            encode_head("POST", route, {"x a": "1"}, 0)


def test_each_route_gets_its_own_head_and_the_memory_is_bounded() -> None:
    headers = {"authorization": "Bearer k"}
    for i in range(mod._MAX_HEADS + 10):
        route = route_for(f"http://h{i}.example/p{i}", ProxySettings())  # routes come and go (ids get reused)
        head = encode_head("POST", route, headers, i)
        assert head.startswith(
            f"POST /p{i} HTTP/1.1\r\nhost: h{i}.example\r\ncontent-length: {i}\r\n".encode()
        )
        assert len(mod._HEADS) <= mod._MAX_HEADS


def test_a_proxy_authorization_line_is_part_of_the_reused_head() -> None:
    proxies = ProxySettings.from_env({"HTTP_PROXY": "http://u:p@proxy.example:3128"})
    route = route_for("http://up.example/v1", proxies)
    for n in (1, 22):
        head = encode_head("POST", route, {"a": "b"}, n)
        assert head == fresh("POST", route, {"a": "b"}, n)
        assert b"proxy-authorization: Basic " in head and head.startswith(
            b"POST http://up.example/v1 HTTP/1.1"
        )
