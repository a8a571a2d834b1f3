"""A request offering an upgrade is served as plain HTTP/1.1 (api/server_upgrade.py), in process against the real
protocol class with ws="none" as `switchyard serve` runs it.

httptools ends an upgrade request at its head; before the fix its body was never fed (the application read an
empty body: `curl --http2` got 400 "body is empty") and a body arriving in a later packet was parsed as requests.
The end-to-end proof with the real `curl --http2` is tests/e2e/test_upgrade_offers.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.unit.test_limits_protocol import Transport
from tests.unit.test_server_cycle import Parsed
from uvicorn.config import Config
from uvicorn.server import ServerState

from switchyard.api.asgi import declared_length, read_body
from switchyard.api.server_limits import LimitedHttpToolsProtocol, ServerLimits
from switchyard.errors import GatewayError

LIMIT = 1024
H2C = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
WEBSOCKET = (
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)


class EchoApp:
    """Reads the body under the gateway's limits (413 over LIMIT, 408 after the deadline) and echoes it; 404 for
    /ws, without reading."""

    def __init__(self, limits: ServerLimits, body_timeout: float) -> None:
        self.limits = limits
        self.body_timeout = body_timeout
        self.seen: list[tuple[str, str, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        status, body = 404, b"not found"
        if scope["path"] != "/ws":
            try:
                declared = declared_length(scope["headers"])
                body = await read_body(receive, LIMIT, timeout=self.body_timeout, declared=declared)
                status = 200
            except GatewayError as e:
                status, body = e.status, e.message.encode()
        self.seen.append((scope["method"], scope["path"], body))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})


def served(
    limits: ServerLimits | None = None, body_timeout: float = 5.0
) -> tuple[LimitedHttpToolsProtocol, Transport, EchoApp]:
    app = EchoApp(limits or ServerLimits(), body_timeout)
    config = Config(app=app, http=LimitedHttpToolsProtocol, ws="none", lifespan="off", log_level="critical")
    config.load()
    proto = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    proto.connection_made(transport)
    return proto, transport, app


async def settle(rounds: int = 10) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def answers(t: Transport) -> list[dict[str, Any]]:
    return Parsed(bytes(t.out)).responses


def post(
    upgrade: bytes, framing: bytes, path: bytes = b"/v1/chat/completions", version: bytes = b"1.1"
) -> bytes:
    return b"POST %s HTTP/%s\r\nHost: x\r\n%s%s\r\n" % (path, version, upgrade, framing)


CHAT = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'


async def test_a_content_length_body_with_upgrade_h2c_is_served_and_the_connection_closes():
    proto, t, app = served()
    proto.data_received(post(H2C, b"Content-Length: %d\r\n" % len(CHAT)) + CHAT)
    await settle()
    (r,) = answers(t)
    assert r["status"] == 200 and r["body"] == CHAT  # no 101: plain HTTP/1.1
    assert r["headers"]["connection"] == "close" and t.closed
    assert app.seen == [("POST", "/v1/chat/completions", CHAT)]


async def test_the_body_may_arrive_in_later_packets():
    proto, t, _ = served()
    proto.data_received(post(H2C, b"Content-Length: %d\r\n" % len(CHAT)))
    for i in range(0, len(CHAT), 10):
        await settle(2)
        proto.data_received(CHAT[i : i + 10])
    await settle()
    assert [(r["status"], r["body"]) for r in answers(t)] == [(200, CHAT)]


async def test_a_chunked_body_with_upgrade_is_served():
    proto, t, _ = served()
    proto.data_received(post(H2C, b"Transfer-Encoding: chunked\r\n") + b'5\r\n{"mod')
    await settle(2)
    rest = CHAT[5:]
    proto.data_received(b"\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
    await settle()
    assert [(r["status"], r["body"]) for r in answers(t)] == [(200, CHAT)] and t.closed


async def test_a_request_inside_the_body_stays_body_when_it_arrives_in_a_later_packet():
    """The old code resumed the parser after the head: a body arriving later was parsed as requests and served
    (request smuggling past anything that checked the first request)."""
    hidden = b"GET /admin/v1/orgs HTTP/1.1\r\nHost: x\r\n\r\n"
    proto, t, app = served()
    proto.data_received(post(H2C, b"Content-Length: %d\r\n" % len(hidden)))
    await settle(2)
    proto.data_received(hidden)
    await settle()
    assert app.seen == [("POST", "/v1/chat/completions", hidden)]
    assert [r["status"] for r in answers(t)] == [200]


async def test_a_request_pipelined_after_an_upgrade_request_is_not_parsed_and_the_connection_closes():
    """The choice (docs/security.md): nothing after an upgrade request's body is read as a request; its answer
    says `connection: close` (RFC 9112 §9.3.2: the client retries what was not answered)."""
    after = b"POST /v1/after HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    for upgrade in (H2C, WEBSOCKET):
        proto, t, app = served()
        proto.data_received(post(upgrade, b"Content-Length: 2\r\n") + b"{}" + after)
        await settle()
        proto.data_received(after)  # nor anything in a later packet
        await settle()
        (r,) = answers(t)
        assert r["status"] == 200 and r["body"] == b"{}" and r["headers"]["connection"] == "close"
        assert [path for _, path, _ in app.seen] == ["/v1/chat/completions"] and t.closed


async def test_a_normal_request_before_an_upgrade_request_is_still_answered_first():
    plain = b"POST /v1/first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    proto, t, app = served()
    proto.data_received(plain + post(H2C, b"Content-Length: 2\r\n") + b"[]")
    for _ in range(3):
        await settle()
    assert [(r["status"], r["body"]) for r in answers(t)] == [(200, b"{}"), (200, b"[]")]
    assert [p for _, p, _ in app.seen] == ["/v1/first", "/v1/chat/completions"] and t.closed


async def test_a_websocket_upgrade_gets_the_application_s_http_answer():
    proto, t, _ = served()
    proto.data_received(b"GET /ws HTTP/1.1\r\nHost: x\r\n" + WEBSOCKET + b"\r\n")
    await settle()
    (r,) = answers(t)
    assert r["status"] == 404 and r["headers"]["connection"] == "close" and t.closed  # never a 101, no hang


async def test_a_connect_is_answered_and_what_follows_its_head_is_never_parsed():
    proto, t, app = served()
    proto.data_received(b"CONNECT /ws HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/next HTTP/1.1\r\nHost: x\r\n\r\n")
    await settle()
    assert [r["status"] for r in answers(t)] == [404] and [p for _, p, _ in app.seen] == ["/ws"]


async def test_an_upgrade_in_http_1_0_is_ignored_too():
    proto, t, _ = served()
    proto.data_received(post(H2C, b"Content-Length: 2\r\n", version=b"1.0") + b"{}")
    await settle()
    assert [(r["status"], r["body"]) for r in answers(t)] == [(200, b"{}")] and t.closed


@pytest.mark.parametrize(
    "framing",
    [b"Transfer-Encoding: gzip\r\n", b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n"],
)
async def test_framing_refused_without_upgrade_is_refused_with_it(framing):
    proto, t, _ = served()
    proto.data_received(post(H2C, framing) + b"{}")
    await settle()
    assert [r["status"] for r in answers(t)] == [400] and t.closed


async def test_a_declared_body_over_the_limit_is_413():
    proto, t, _ = served()
    proto.data_received(post(H2C, b"Content-Length: %d\r\n" % (LIMIT + 1)))
    await settle()
    assert [r["status"] for r in answers(t)] == [413]


async def test_a_chunked_body_over_the_limit_is_413():
    proto, t, _ = served()
    proto.data_received(post(H2C, b"Transfer-Encoding: chunked\r\n"))
    for _ in range(3):
        proto.data_received(b"200\r\n" + b"a" * 0x200 + b"\r\n")
        await settle(2)
    await settle()
    assert [r["status"] for r in answers(t)] == [413] and t.closed


async def test_a_slow_body_is_408_after_the_deadline():
    proto, t, _ = served(body_timeout=0.1)
    proto.data_received(post(H2C, b"Content-Length: 10\r\n") + b"abc")
    await asyncio.sleep(0.2)
    assert [r["status"] for r in answers(t)] == [408] and t.closed


async def test_the_header_cap_applies_to_an_upgrade_request():
    proto, t, app = served(ServerLimits(max_header_bytes=1024))
    proto.data_received(post(H2C + b"X-Pad: " + b"p" * 2000 + b"\r\n", b"Content-Length: 2\r\n") + b"{}")
    await settle()
    assert [r["status"] for r in answers(t)] == [431] and not app.seen


async def test_a_head_that_ends_inside_the_capped_slice_keeps_its_body():
    """The protocol feeds at most the cap's room while in the head: the upgrade's offset is in that slice, the
    rest of the chunk follows it."""
    request = post(H2C, b"Content-Length: 600\r\n") + b"b" * 600
    head_size = request.index(b"\r\n\r\n") + 4
    proto, t, _ = served(ServerLimits(max_header_bytes=head_size + 100))
    proto.data_received(request)
    await settle()
    assert [(r["status"], r["body"]) for r in answers(t)] == [(200, b"b" * 600)]
