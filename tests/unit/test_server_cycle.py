"""The server's whole-answer write (api/server_cycle.py), in process against the real protocol class.

What the end-to-end tests prove through a real `switchyard serve` (every proxied completion uses this write), this
proves for the edges: keep-alive and `connection: close`, pipelining, HEAD, and refusing a head that a header
value could split.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
import pytest
from tests.unit.test_limits_protocol import Transport, protocol

from switchyard.api.asgi import ON_DISCONNECT, STREAM_START, WHOLE_RESPONSE
from switchyard.api.server_cycle import HeadRejected
from switchyard.api.server_limits import ServerLimits


class WholeApp:
    """Answers with the server's whole-answer write, with the headers the test gives."""

    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.limits = ServerLimits()
        self.headers = headers or [(b"helicone-id", b"abc")]
        self.errors: list[BaseException] = []
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.seen.append(scope)
        await receive()
        try:
            scope["extensions"][WHOLE_RESPONSE](200, self.headers, b'{"ok":true}', b"application/json")
        except HeadRejected as e:
            self.errors.append(e)
            await send({"type": "http.response.start", "status": 500, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})


def served(app: WholeApp) -> tuple[Any, Transport]:
    proto, t, _ = protocol(app.limits)
    proto.app = app
    return proto, t


class Parsed:
    def __init__(self, raw: bytes) -> None:
        self.responses: list[dict[str, Any]] = []
        self.parser = httptools.HttpResponseParser(self)
        self.parser.feed_data(raw)

    def on_message_begin(self) -> None:
        self.responses.append({"headers": {}, "body": b""})

    def on_header(self, name: bytes, value: bytes) -> None:
        self.responses[-1]["headers"][name.decode().lower()] = value.decode()

    def on_headers_complete(self) -> None:
        self.responses[-1]["status"] = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.responses[-1]["body"] += body


REQUEST = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_one_write_of_a_valid_http_answer_and_the_connection_stays_open():
    app = WholeApp()
    proto, t = served(app)
    writes: list[bytes] = []
    t.write = writes.append  # type: ignore[method-assign]
    proto.data_received(REQUEST)
    await settle()
    assert len(writes) == 1  # status line, headers and body together
    (r,) = Parsed(writes[0]).responses
    assert r["status"] == 200 and r["body"] == b'{"ok":true}'
    assert r["headers"]["content-length"] == "11" and r["headers"]["helicone-id"] == "abc"
    assert r["headers"]["content-type"] == "application/json" and "connection" not in r["headers"]
    assert not t.closed
    assert app.seen[0]["path"] == "/v1/chat/completions" and app.seen[0]["method"] == "POST"


async def test_pipelined_requests_are_answered_in_order_on_one_connection():
    app = WholeApp()
    proto, t = served(app)
    proto.data_received(REQUEST * 3)
    for _ in range(5):
        await settle()
    assert [r["status"] for r in Parsed(bytes(t.out)).responses] == [200, 200, 200]
    assert len(app.seen) == 3 and not t.closed


@pytest.mark.parametrize(
    "header",
    [
        (b"x-echo", b"a\r\nset-cookie: stolen=1"),  # response splitting through a value
        (b"x-echo", b"a\nb"),
        (b"x-echo", b"a\rb"),
        (b"x-echo", b"nul\x00byte"),
        (b"x-echo", b"bell\x07"),
        (b"x-bad\r\nname", b"v"),
    ],
)
async def test_a_head_a_header_could_split_is_refused_before_a_byte_is_written(header):
    app = WholeApp([(b"helicone-id", b"abc"), header])
    proto, t = served(app)
    proto.data_received(REQUEST)
    await settle()
    assert len(app.errors) == 1
    (r,) = Parsed(bytes(t.out)).responses  # only the fallback answer, nothing of the refused head
    assert r["status"] == 500 and b"stolen" not in bytes(t.out)


async def test_a_tab_in_a_value_is_allowed_as_uvicorn_allows_it():
    app = WholeApp([(b"x-note", b"a\tb")])
    proto, t = served(app)
    proto.data_received(REQUEST)
    await settle()
    assert not app.errors and Parsed(bytes(t.out)).responses[0]["headers"]["x-note"] == "a\tb"


async def test_connection_close_in_the_answer_closes_after_writing_once():
    app = WholeApp([(b"connection", b"close")])
    proto, t = served(app)
    proto.data_received(REQUEST)
    await settle()
    assert bytes(t.out).lower().count(b"connection: close") == 1 and t.closed


async def test_http_1_0_gets_connection_close():
    app = WholeApp()
    proto, t = served(app)
    proto.data_received(REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0"))
    await settle()
    out = bytes(t.out)
    assert out.lower().count(b"connection: close") == 1 and t.closed and app.seen[0]["http_version"] == "1.0"


async def test_head_gets_the_length_but_no_body():
    app = WholeApp()
    proto, t = served(app)
    proto.data_received(b"HEAD /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    await settle()
    out = bytes(t.out)
    assert b"content-length: 11\r\n" in out and out.endswith(b"\r\n\r\n")


async def test_percent_encoded_path_and_query_reach_the_scope():
    app = WholeApp()
    proto, _ = served(app)
    proto.data_received(REQUEST.replace(b"/v1/chat/completions", b"/v1/a%20b?x=1"))
    await settle()
    scope = app.seen[0]
    assert (
        scope["path"] == "/v1/a b" and scope["raw_path"] == b"/v1/a%20b" and scope["query_string"] == b"x=1"
    )


class StreamApp(WholeApp):
    """Starts a chunked answer with the server's stream start, then sends the rest as ASGI messages (after a
    real wait when `waits`: the next chunk is not here yet)."""

    waits = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.seen.append(scope)
        await receive()
        try:
            scope["extensions"][STREAM_START](200, self.headers, b"data: 1\n\n")
        except HeadRejected as e:
            self.errors.append(e)
            return
        if self.waits:
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"data: 2\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def test_a_stream_whose_rest_is_already_here_is_written_whole_in_one_write_and_stays_valid_http():
    app = StreamApp([(b"content-type", b"text/event-stream")])
    proto, t = served(app)
    writes: list[bytes] = []
    t.write = writes.append  # type: ignore[method-assign]
    proto.data_received(REQUEST * 2)  # two requests on one keep-alive connection
    for _ in range(5):
        await settle()
    assert len(writes) == 2  # one per answer: head, both chunks and the end of the body
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"data: 2\n\n\r\n0\r\n\r\n")
    responses = Parsed(b"".join(writes)).responses
    assert [r["body"] for r in responses] == [b"data: 1\n\ndata: 2\n\n"] * 2
    assert responses[0]["headers"]["transfer-encoding"] == "chunked" and not t.closed


async def test_a_stream_s_first_chunk_is_not_held_back_while_the_rest_is_awaited():
    app = StreamApp([(b"content-type", b"text/event-stream")])
    app.waits = True
    proto, t = served(app)
    writes: list[bytes] = []
    t.write = writes.append  # type: ignore[method-assign]
    proto.data_received(REQUEST)
    await settle()
    assert len(writes) == 1 and writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b"data: 1\n\n\r\n")  # head and first chunk out while the app waits
    await asyncio.sleep(0.05)
    await settle()
    assert [r["body"] for r in Parsed(b"".join(writes)).responses] == [b"data: 1\n\ndata: 2\n\n"]


async def test_a_streamed_answer_to_head_has_no_body():
    app = StreamApp([(b"content-type", b"text/event-stream")])
    proto, t = served(app)
    proto.data_received(REQUEST.replace(b"POST", b"HEAD", 1))
    for _ in range(3):
        await settle()
    out = bytes(t.out)
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\n") and b"data:" not in out


async def test_a_stream_head_cannot_carry_its_own_framing():
    app = StreamApp([(b"content-length", b"10")])
    proto, t = served(app)
    proto.data_received(REQUEST)
    await settle()
    assert len(app.errors) == 1 and b"content-length: 10" not in bytes(t.out)


async def test_the_disconnect_callback_fires_once_when_the_caller_leaves_mid_answer():
    calls: list[str] = []

    class Watching(WholeApp):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await receive()
            scope["extensions"][ON_DISCONNECT](lambda: calls.append("left"))
            scope["extensions"][STREAM_START](200, [], b"data: 1\n\n")
            await asyncio.sleep(3600)  # cancelled with the test's loop

    proto, t = served(Watching())
    proto.data_received(REQUEST)
    await settle()
    assert bytes(t.out).endswith(b"data: 1\n\n\r\n") and calls == []  # streaming, caller still there
    proto.connection_lost(None)
    proto.connection_lost(None)  # a second report changes nothing
    assert calls == ["left"]


async def test_no_disconnect_callback_after_the_answer_is_complete():
    calls: list[str] = []

    class Done(WholeApp):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await receive()
            watch = scope["extensions"][ON_DISCONNECT]
            watch(lambda: calls.append("late"))
            scope["extensions"][WHOLE_RESPONSE](200, [], b"{}", b"application/json")

    proto, t = served(Done())
    proto.data_received(REQUEST)
    await settle()
    assert bytes(t.out).endswith(b"\r\n\r\n{}")  # answered in full before the connection goes
    proto.connection_lost(None)
    assert calls == []


async def test_a_finished_request_s_cycle_is_freed_without_a_garbage_collection():
    """The extensions are the cycle's own bound methods in its scope: unless that loop is broken when the
    request ends, each request's cycle (and the body it buffered) waits for a garbage collection."""
    import gc
    import weakref

    app = WholeApp()
    proto, _ = served(app)
    gc.disable()
    try:
        proto.data_received(REQUEST)
        await settle()
        first = weakref.ref(proto.cycle)
        app.seen.clear()  # the test's own reference to the scope
        proto.data_received(REQUEST)  # the next request replaces the connection's cycle
        await settle()
        assert first() is None
    finally:
        gc.enable()


class RefusingApp(WholeApp):
    """Answers 413 without reading the body, as the gateway does for a declared length over its limit."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.seen.append(scope)
        scope["extensions"][WHOLE_RESPONSE](413, [], b'{"error":{}}', b"application/json")


BIG_HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"


@pytest.mark.parametrize(
    "head",
    [BIG_HEAD + b"Connection: close\r\n\r\n", BIG_HEAD.replace(b"HTTP/1.1", b"HTTP/1.0") + b"\r\n"],
    ids=["connection-close", "http-1.0"],
)
async def test_an_answer_that_ends_the_connection_before_the_body_arrived_lingers_instead_of_resetting(head):
    """Closing a socket with unread bytes sends a reset, which can destroy the answer before the client reads it:
    the answer is followed by a FIN, and what the client still sends is read and discarded for a moment."""
    proto, t = served(RefusingApp())
    proto.data_received(head + b"a" * 1000)
    await settle()
    assert bytes(t.out).startswith(b"HTTP/1.1 413 ") and bytes(t.out).endswith(b'{"error":{}}')
    assert t.eof and not t.closed  # FIN after the answer, the socket still open and read
    size = len(t.out)
    proto.data_received(b"a" * 50_000 + REQUEST)  # the rest of the body, then bytes that look like a request
    await settle()
    assert len(t.out) == size and not t.closed  # discarded, nothing more answered
    proto._linger_timer._run()  # the linger period ends
    assert t.closed


async def test_an_answer_that_ends_the_connection_after_the_whole_body_closes_it_at_once():
    proto, t = served(WholeApp())
    proto.data_received(REQUEST.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n"))
    await settle()
    assert bytes(t.out).endswith(b'{"ok":true}') and t.closed and not t.eof
