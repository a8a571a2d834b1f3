"""Caps of the upstream client: response size (announced, chunked, streamed), gzip/deflate expansion, header
block; and what the transport makes of a refused or oversized exchange."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest

from support.raw_http import RawRequest, RawServer, response
from switchyard.providers.base import UpstreamError, UpstreamRequest
from switchyard.providers.http1 import HTTPError, Pool
from switchyard.providers.transport import Timeouts, Transport

T = {"connect_timeout": 2.0, "read_timeout": 2.0, "total_timeout": 10.0}
CAP = 1 << 20
ZEROS = bytes(5 * CAP)


def serve(body: bytes, headers: dict[str, str] | None = None, *, chunked: bool = False):
    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        w.write(response(200, body, headers, chunked=chunked))
        await w.drain()
        return True

    return RawServer(handler).start()


async def fetch(server: RawServer, pool: Pool, stream: bool = False) -> bytes:
    resp = await pool.request("POST", f"{server.url}/", {}, b"{}", **T)
    if not stream:
        return await resp.read()
    return b"".join([c async for c in resp.iter_chunks()])


async def test_an_announced_length_over_the_cap_fails_before_the_body():
    server = await serve(bytes(CAP + 1))
    pool = Pool(max_response_bytes=CAP)
    try:
        with pytest.raises(HTTPError, match="max_response_bytes") as err:
            await fetch(server, pool)
        assert err.value.too_large
        assert pool.open_connections(("http", "127.0.0.1", server.port)) == 0
    finally:
        await pool.close()
        await server.stop()


@pytest.mark.parametrize("stream", [False, True])
async def test_a_chunked_body_over_the_cap_is_cut_off(stream):
    server = await serve(bytes(CAP + 1), chunked=True)
    pool = Pool(max_response_bytes=CAP)
    try:
        with pytest.raises(HTTPError, match="max_response_bytes") as err:
            await fetch(server, pool, stream)
        assert err.value.too_large
    finally:
        await pool.close()
        await server.stop()


async def test_a_body_at_the_cap_is_read_whole():
    server = await serve(bytes(CAP), chunked=True)
    pool = Pool(max_response_bytes=CAP)
    try:
        assert len(await fetch(server, pool)) == CAP
    finally:
        await pool.close()
        await server.stop()


def deflate(data: bytes, wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


ENCODED = {
    "gzip": gzip.compress(ZEROS),
    "deflate": deflate(ZEROS, 15),  # zlib-wrapped, as RFC 9110 says
    "deflate-raw": deflate(ZEROS, -15),  # what some servers send instead
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("encoding", list(ENCODED))
async def test_compressed_bodies_are_decoded_up_to_the_cap(encoding, stream):
    body = ENCODED[encoding]
    assert len(body) < 64 * 1024  # a compression bomb: small on the wire
    header = {"content-encoding": encoding.removesuffix("-raw")}
    server = await serve(body, header)
    roomy, tight = Pool(max_response_bytes=8 * CAP), Pool(max_response_bytes=CAP)
    try:
        assert await fetch(server, roomy, stream) == ZEROS
        with pytest.raises(HTTPError, match=r"expands past upstream\.max_response_bytes") as err:
            await fetch(server, tight, stream)
        assert err.value.too_large
    finally:
        await roomy.close()
        await tight.close()
        await server.stop()


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b"not gzip at all", "corrupt"), (gzip.compress(b"x" * 1000, mtime=0)[:-12], "truncated")],
    ids=["corrupt", "truncated"],  # the same ids in every process (pytest-xdist's workers collect separately)
)
async def test_a_broken_gzip_body_is_an_error(body, problem):
    server = await serve(body, {"content-encoding": "gzip"})
    pool = Pool()
    try:
        with pytest.raises(HTTPError, match=problem):
            await fetch(server, pool)
    finally:
        await pool.close()
        await server.stop()


async def test_a_huge_header_block_is_refused():
    server = await serve(b"ok", {f"x-h{i}": "v" * 1000 for i in range(300)})
    pool = Pool()
    try:
        with pytest.raises(HTTPError, match="headers exceed") as err:
            await fetch(server, pool)
        assert err.value.too_large
    finally:
        await pool.close()
        await server.stop()


async def test_interim_responses_are_skipped():
    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        w.write(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
            + response(200, b"real")
        )
        await w.drain()
        return True

    server = await RawServer(handler).start()
    pool = Pool()
    try:
        for _ in range(2):
            assert await fetch(server, pool) == b"real"
        assert server.connections == 1
    finally:
        await pool.close()
        await server.stop()


# -- as the pipeline sees it -------------------------------------------------------------------------------


async def transport(**kw) -> Transport:
    t = Transport(timeouts=Timeouts(2, 2, 10), env={}, **kw)
    await t.start()
    return t


async def test_the_transport_maps_a_refused_request_to_a_400_that_does_not_count_against_the_provider():
    t = await transport()
    try:
        with pytest.raises(UpstreamError) as err:
            await t.send(
                UpstreamRequest("POST", "http://127.0.0.1:9/openai/deployments/\u20ac/chat", {}, b"{}")
            )
        assert (err.value.status, err.value.kind, err.value.code) == (
            400,
            "unsupported",
            "invalid_upstream_request",
        )
        with pytest.raises(UpstreamError) as err:
            await t.send(UpstreamRequest("POST", "http://127.0.0.1:9/x", {"api-key": "k\r\nx: 1"}, b"{}"))
        assert err.value.kind == "unsupported" and "control character" in err.value.message
    finally:
        await t.close()


async def test_the_transport_maps_an_oversized_answer_to_a_502_that_is_neither_retried_nor_counted():
    server = await serve(bytes(CAP + 1))
    t = await transport(max_response_bytes=CAP)
    try:
        with pytest.raises(UpstreamError) as err:
            await t.send(UpstreamRequest("POST", f"{server.url}/", {}, b"{}"))
        assert (err.value.status, err.value.kind, err.value.code) == (
            502,
            "bad_request",
            "upstream_response_too_large",
        )
    finally:
        await t.close()
        await server.stop()


def test_the_transport_refuses_an_unusable_proxy_at_start():
    with pytest.raises(ValueError, match="HTTPS_PROXY"):
        Transport(timeouts=Timeouts(2, 2, 10), env={"HTTPS_PROXY": "https://proxy.corp"})
