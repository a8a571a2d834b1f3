"""The HTTP protocol's limits (api/server_limits.py) and the body limits (api/asgi.py), in process.

The end-to-end behaviour against a real `switchyard serve` is in tests/e2e/test_server_limits.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from switchyard.api.asgi import GuardedReceive, read_body
from switchyard.api.server_limits import LimitedHttpToolsProtocol, ServerLimits, limits_of
from switchyard.errors import GatewayError


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False
        self.eof = False
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8787)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.out += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


class App:
    """An ASGI app that answers 200 with the body length, carrying limits as the Gateway does."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


def protocol(
    limits: ServerLimits, state: ServerState | None = None
) -> tuple[LimitedHttpToolsProtocol, Transport, App]:
    app = App(limits)
    config = Config(
        app=app, http=LimitedHttpToolsProtocol, proxy_headers=False, lifespan="off", log_level="error"
    )
    config.load()
    proto = config.http_protocol_class(config=config, server_state=state or ServerState(), app_state={})
    transport = Transport()
    proto.connection_made(transport)
    return proto, transport, app


def status(out: bytes) -> int:
    return int(out.split(b" ", 2)[1])


async def test_header_section_over_the_cap_is_431_as_the_bytes_arrive():
    proto, t, app = protocol(ServerLimits(max_header_bytes=4096))
    proto.data_received(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: ")
    for _ in range(10):  # one header value, never finished: httptools alone would buffer all of it
        proto.data_received(b"a" * 1000)
    assert status(bytes(t.out)) == 431 and t.eof and not app.seen
    body = orjson.loads(bytes(t.out).split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "headers_too_large"
    size = len(t.out)
    proto.data_received(b"a" * 100_000)  # lingering: discarded, nothing more written
    assert len(t.out) == size


async def test_headers_under_the_cap_pass_and_the_body_is_not_counted():
    proto, t, app = protocol(ServerLimits(max_header_bytes=2048))
    head = b"POST /x HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 1500 + b"\r\nContent-Length: 10000\r\n\r\n"
    proto.data_received(head + b"b" * 10_000)  # one chunk: headers end within the first 2048 bytes
    await asyncio.sleep(0)
    assert status(bytes(t.out)) == 200 and app.seen[0]["path"] == "/x"


async def test_many_small_headers_count_too():
    proto, t, _ = protocol(ServerLimits(max_header_bytes=2048))
    proto.data_received(b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(400)) + b"\r\n")
    assert status(bytes(t.out)) == 431


async def test_each_request_on_a_connection_gets_the_whole_cap():
    proto, t, app = protocol(ServerLimits(max_header_bytes=1024))
    for i in range(5):  # 5 × 700 bytes of headers on one keep-alive connection
        proto.data_received(b"GET /%d HTTP/1.1\r\nHost: x\r\nX-Pad: " % i + b"p" * 650 + b"\r\n\r\n")
        await asyncio.sleep(0)
    assert bytes(t.out).count(b"HTTP/1.1 200") == 5 and len(app.seen) == 5


async def test_connections_over_the_cap_get_503_with_retry_after():
    state = ServerState()
    limits = ServerLimits(max_connections=2)
    first = [protocol(limits, state) for _ in range(2)]
    proto, t, app = protocol(limits, state)
    out = bytes(t.out)
    assert status(out) == 503 and b"retry-after: 1\r\n" in out and t.eof
    proto.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert not app.seen  # never parsed
    assert all(not tr.out for _, tr, _ in first)


async def test_headers_too_slow_are_408_and_a_silent_connection_is_closed():
    proto, t, _ = protocol(ServerLimits(header_timeout=0.05))
    proto.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n")
    await asyncio.sleep(0.1)
    assert status(bytes(t.out)) == 408
    _, silent, _ = protocol(ServerLimits(header_timeout=0.05))
    await asyncio.sleep(0.1)
    assert silent.closed and not silent.out


async def test_a_later_request_on_the_connection_has_its_own_header_deadline():
    proto, t, _ = protocol(ServerLimits(header_timeout=0.1))
    proto.data_received(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0)
    assert status(bytes(t.out)) == 200 and proto._head_timer is None  # complete headers: no timer left
    await asyncio.sleep(0.15)
    proto.data_received(b"GET /2 HTTP/1.1\r\nHost: x\r\n")  # then never the end of the headers
    await asyncio.sleep(0.15)
    assert bytes(t.out).count(b"HTTP/1.1 408") == 1


async def test_the_unread_rest_of_a_refused_body_has_a_deadline():
    proto, t, _ = protocol(ServerLimits(body_timeout=0.05))
    proto.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"b" * 10)
    await asyncio.sleep(0)  # the app answers without reading the body
    assert status(bytes(t.out)) == 200 and not t.closed
    await asyncio.sleep(0.1)
    assert t.closed


def test_limits_come_from_the_app_through_wrappers():
    limits = ServerLimits(max_header_bytes=1234)

    class Wrapper:
        def __init__(self, app: Any) -> None:
            self.app = app

    assert limits_of(Wrapper(Wrapper(App(limits)))) is limits
    assert limits_of(object()) == ServerLimits()


def messages(*chunks: bytes, gap: float = 0.0):
    items = list(chunks)

    async def receive() -> dict[str, Any]:
        if gap:
            await asyncio.sleep(gap)
        body = items.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(items)}

    return receive


async def test_read_body_refuses_a_declared_length_before_reading():
    async def receive() -> dict[str, Any]:
        raise AssertionError("read")

    with pytest.raises(GatewayError) as e:
        await read_body(receive, 1024, declared=4096)
    assert e.value.status == 413


async def test_read_body_deadline_is_408_and_closes_the_connection():
    with pytest.raises(GatewayError) as e:
        await read_body(messages(b"a", b"b", b"c", gap=0.04), 1024, timeout=0.1)
    assert e.value.status == 408 and e.value.headers == {"connection": "close"}
    assert await read_body(messages(b"a", b"b", gap=0.01), 1024, timeout=0.1) == b"ab"
    await asyncio.sleep(0.15)  # the deadline of the finished read is gone: this sleep is not cancelled


async def test_guarded_receive_applies_the_same_limits_as_the_route_reads():
    raw = [(b"content-length", b"5000")]
    guarded = GuardedReceive(messages(b"x"), raw, 1024, 1.0)
    with pytest.raises(GatewayError) as e:
        await guarded()
    assert e.value.status == 413
    guarded = GuardedReceive(messages(b"a" * 600, b"a" * 600), [], 1024, 1.0)
    await guarded()
    with pytest.raises(GatewayError) as e:
        await guarded()
    assert e.value.status == 413
    slow = GuardedReceive(messages(b"a", b"b", b"c", gap=0.04), [], 1024, 0.1)
    with pytest.raises(GatewayError) as e:
        for _ in range(3):
            await slow()
    assert e.value.status == 408


async def test_guarded_receive_does_not_time_a_wait_after_the_body():
    async def disconnect_later() -> dict[str, Any]:
        await asyncio.sleep(0.15)
        return {"type": "http.disconnect"}

    done = iter([messages(b"{}"), disconnect_later])
    guarded = GuardedReceive(lambda: next(done)(), [], 1024, 0.05)
    assert (await guarded())["body"] == b"{}"
    assert (await guarded())["type"] == "http.disconnect"  # a streaming response's disconnect watch


async def test_read_body_passes_a_cancellation_that_is_not_its_deadline_on():
    async def never() -> dict[str, Any]:
        await asyncio.sleep(10)
        raise AssertionError

    task = asyncio.ensure_future(read_body(never, 1024, timeout=5))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_read_body_without_a_wait_returns_the_body_and_leaves_the_task_uncancelled():
    body = await read_body(messages(b"abc"), 1024, timeout=0.01)
    await asyncio.sleep(0.05)  # a stray deadline would cancel this sleep
    assert body == b"abc" and not asyncio.current_task().cancelling()
