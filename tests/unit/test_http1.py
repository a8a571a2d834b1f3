"""The upstream HTTP/1.1 client (providers/http1.py) against a raw loopback server: buffer limits and pooled
reuse, keep-alive replay rules, connection cap, what it refuses to send."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import uvloop

from support.raw_http import RawRequest, RawServer, response
from switchyard.providers.http1 import HTTPError, Pool

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
MiB = 1 << 20
SIZES = [64 * 1024, MiB - 1, MiB, MiB + 1, 1_260_000, 3 * MiB]
T = {"connect_timeout": 2.0, "read_timeout": 2.0, "total_timeout": 20.0}


def payload(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


@contextlib.asynccontextmanager
async def serving(handler, **pool_kw) -> AsyncIterator[tuple[RawServer, Pool]]:
    server = await RawServer(handler).start()
    pool = Pool(**pool_kw)
    try:
        yield server, pool
    finally:
        await pool.close()
        await server.stop()


def run(loop: str, test: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(asyncio.wait_for(test(), 60))


async def read_as(resp, mode: str) -> bytes:
    if mode == "read":
        return await resp.read()
    if (
        mode == "slow"
    ):  # the consumer is busy while the whole answer arrives: reading pauses at the high-water mark
        await asyncio.sleep(0.3)
        return await resp.read()
    parts = []
    async for chunk in resp.iter_chunks():
        parts.append(chunk)
        if len(parts) == 1:
            await asyncio.sleep(0.3)
    return b"".join(parts)


@pytest.mark.parametrize("loop", list(LOOPS))
@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("mode", ["read", "slow", "stream"])
@pytest.mark.parametrize("size", SIZES)
def test_a_response_of_any_size_leaves_the_pooled_connection_ready(loop, framing, mode, size):
    big = payload(size)

    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        w.write(response(200, big if req.target == "/big" else b"ok", chunked=framing == "chunked"))
        await w.drain()
        return True

    async def test() -> None:
        async with serving(handler) as (server, pool):
            resp = await pool.request("POST", f"{server.url}/big", {}, b"{}", **T)
            assert await read_as(resp, mode) == big
            t0 = time.monotonic()
            second = await pool.request("POST", f"{server.url}/small", {}, b"{}", **T)
            assert await second.read() == b"ok"
            assert time.monotonic() - t0 < 1.0
            assert server.connections == 1  # the same pooled connection carried both

    run(loop, test)


# -- keep-alive replay -----------------------------------------------------------------------------------


async def test_a_post_the_upstream_read_is_not_replayed_when_it_then_closes():
    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        if len(server_ref[0].requests) == 1:
            w.write(response(200, b"first"))
            await w.drain()
            return True
        return False  # read the whole request (it may be generating), then hang up without an answer

    server_ref: list[RawServer] = []
    async with serving(handler) as (server, pool):
        server_ref.append(server)
        assert await (await pool.request("POST", f"{server.url}/a", {}, b"{}", **T)).read() == b"first"
        with pytest.raises(HTTPError) as err:
            await pool.request("POST", f"{server.url}/b", {}, b'{"n": 2}', **T)
        assert "not replayed" in str(err.value)
        await asyncio.sleep(0.2)
        assert [r.target for r in server.requests] == ["/a", "/b"]  # the upstream saw the POST once


async def test_an_idle_connection_the_upstream_closed_is_not_used():
    """Closed before the next request was written: the request goes on a new connection, once."""

    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        w.write(response(200, req.target.encode()))
        await w.drain()
        return False  # close right after answering (an idle timeout of zero)

    async with serving(handler) as (server, pool):
        assert await (await pool.request("POST", f"{server.url}/a", {}, b"{}", **T)).read() == b"/a"
        time.sleep(0.2)  # the FIN arrives while the loop is blocked: only the pre-write check can see it
        assert await (await pool.request("POST", f"{server.url}/b", {}, b"{}", **T)).read() == b"/b"
        assert [r.target for r in server.requests] == ["/a", "/b"]
        assert server.connections == 2


async def test_an_idempotent_request_is_replayed_on_a_new_connection():
    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        if req.conn == 1 and len([r for r in server_ref[0].requests if r.conn == 1]) == 2:
            return False  # the second request on the first connection: hang up
        w.write(response(200, b"ok"))
        await w.drain()
        return True

    server_ref: list[RawServer] = []
    async with serving(handler) as (server, pool):
        server_ref.append(server)
        await (await pool.request("GET", f"{server.url}/a", {}, b"", **T)).read()
        assert await (await pool.request("GET", f"{server.url}/b", {}, b"", **T)).read() == b"ok"
        assert [(r.target, r.conn) for r in server.requests] == [("/a", 1), ("/b", 1), ("/b", 2)]


async def test_keep_alive_timeout_from_the_upstream_is_honoured():
    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        w.write(response(200, b"ok", {"keep-alive": "timeout=1"}))
        await w.drain()
        return True

    async with serving(handler) as (server, pool):
        for _ in range(2):
            await (await pool.request("POST", f"{server.url}/", {}, b"{}", **T)).read()
        assert server.connections == 2  # one second of idle time, less the margin: never reused


async def test_idle_timeout_of_the_pool():
    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        w.write(response(200, b"ok"))
        await w.drain()
        return True

    async with serving(handler, idle_timeout=0.2) as (server, pool):
        await (await pool.request("POST", f"{server.url}/", {}, b"{}", **T)).read()
        await (await pool.request("POST", f"{server.url}/", {}, b"{}", **T)).read()
        await asyncio.sleep(0.3)
        await (await pool.request("POST", f"{server.url}/", {}, b"{}", **T)).read()
        assert [r.conn for r in server.requests] == [1, 1, 2]


# -- connections per host ------------------------------------------------------------------------------


async def test_connections_per_host_are_capped():
    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.1)
        w.write(response(200, b"ok"))
        await w.drain()
        return True

    async with serving(handler, max_connections_per_host=2) as (server, pool):

        async def one() -> bytes:
            return await (await pool.request("POST", f"{server.url}/", {}, b"{}", **T)).read()

        assert await asyncio.gather(*(one() for _ in range(8))) == [b"ok"] * 8
        assert server.max_open == 2 and server.connections == 2
        assert pool.open_connections(("http", "127.0.0.1", server.port)) == 2


async def test_waiting_for_a_connection_slot_times_out_cleanly():
    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(1.0)
        w.write(response(200, b"ok"))
        await w.drain()
        return True

    async with serving(handler, max_connections_per_host=1) as (server, pool):
        slow = asyncio.ensure_future(pool.request("POST", f"{server.url}/", {}, b"{}", **T))
        await asyncio.sleep(0.05)
        with pytest.raises(HTTPError) as err:
            await pool.request(
                "POST", f"{server.url}/", {}, b"{}", connect_timeout=2, read_timeout=0.2, total_timeout=5
            )
        assert err.value.timeout and "max_connections_per_host = 1" in str(err.value)
        await (await slow).read()


async def test_a_refused_connection_gives_its_slot_back():
    async with serving(lambda r, w: None, max_connections_per_host=1) as (server, pool):
        port = server.port
    pool = Pool(max_connections_per_host=1)
    for _ in range(3):  # the server is gone: each attempt fails to connect, none waits for a slot
        with pytest.raises(HTTPError, match="cannot connect"):
            await pool.request("POST", f"http://127.0.0.1:{port}/", {}, b"{}", **T)
    assert pool.open_connections(("http", "127.0.0.1", port)) == 0


# -- what is never sent ----------------------------------------------------------------------------------

BAD_URLS = [
    "/openai/deployments/a b/chat",
    "/openai/deployments/\u20ac/chat",
    "/x\r\nInjected: 1",
    "/x\x00y",
    "/x#/azure",
]


@pytest.mark.parametrize("path", BAD_URLS)
async def test_an_invalid_request_target_is_refused_before_connecting(path):
    async with serving(lambda r, w: None) as (server, pool):
        with pytest.raises(HTTPError) as err:
            await pool.request("POST", f"{server.url}{path}", {}, b"{}", **T)
        assert err.value.invalid
        assert server.connections == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"x-a": "v\r\nx-injected: 1"},
        {"x-a": "v\nx-injected: 1"},
        {"x-a": "v\rx"},
        {"x-a": "v\x00"},
        {"x-a": "v\x7f"},
        {"x-ok": "fine", "x-a": "v\x1b"},
        {"bad name": "v"},
        {"api-key": "k\u20ac"},
        {"x\u00e9": "v"},
    ],
)
async def test_an_invalid_header_is_refused(headers):
    async with serving(lambda r, w: None) as (server, pool):
        with pytest.raises(HTTPError) as err:
            await pool.request("POST", f"{server.url}/", headers, b"{}", **T)
        assert err.value.invalid
        assert server.connections == 0


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "http://exa mple.com/x", "http://example.com:99999/x", "http:///x"]
)
async def test_an_invalid_url_is_refused(url):
    with pytest.raises(HTTPError) as err:
        await Pool().request("POST", url, {}, b"{}", **T)
    assert err.value.invalid


async def test_ipv6_host_header_is_bracketed():
    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        w.write(response(200, req.headers["host"].encode()))
        await w.drain()
        return True

    try:
        server = await RawServer(handler, host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    pool = Pool()
    try:
        resp = await pool.request("POST", f"http://[::1]:{server.port}/v1/x", {}, b"{}", **T)
        assert await resp.read() == f"[::1]:{server.port}".encode()
    finally:
        await pool.close()
        await server.stop()
