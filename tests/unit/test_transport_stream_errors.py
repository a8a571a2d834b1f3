"""A stream read through the real transport (providers/transport.py over http1): the client's Response raises
the transport's UpstreamError itself (no second generator): a connection lost mid-body, a corrupt gzip body and a
stall past the timeout are UpstreamErrors with the kinds the executor expects; a consumer that stops early
closes the upstream connection."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from support.raw_http import RawRequest, RawServer
from switchyard.providers.base import UpstreamError, UpstreamRequest
from switchyard.providers.transport import Timeouts, Transport


async def _transport() -> Transport:
    t = Transport(timeouts=Timeouts(connect=2.0, first_byte=0.5, total=10.0))
    await t.start()
    return t


def _head(extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n{extra}transfer-encoding: chunked\r\n\r\n".encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _collect(t: Transport, url: str) -> list[bytes]:
    resp = await t.send(UpstreamRequest("POST", url, {}, b"{}", True))
    return [c async for c in resp.iter_chunks()]


@pytest.mark.parametrize(
    ("case", "kind", "words"),
    [
        ("drop", "connection", "mid-stream"),
        ("gzip", "connection", "corrupt gzip"),
        ("stall", "timeout", "stalled"),
    ],
)
async def test_a_broken_stream_is_an_upstream_error(case, kind, words) -> None:
    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        if case == "gzip":
            w.write(
                _head("content-encoding: gzip\r\n")
                + _chunk(gzip.compress(b"data: x\n\n")[:10] + b"\xff" * 20)
            )
        else:
            w.write(_head() + _chunk(b"data: first\n\n"))
        await w.drain()
        if case == "stall":
            await asyncio.sleep(2)
        return False  # close without the last chunk

    server = await RawServer(handler).start()
    t = await _transport()
    try:
        with pytest.raises(UpstreamError) as err:
            await _collect(t, f"{server.url}/s")
        assert err.value.kind == kind and words in err.value.message
    finally:
        await t.close()
        await server.stop()


async def test_a_consumer_that_stops_early_closes_the_connection() -> None:
    release = asyncio.Event()

    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        w.write(_head() + _chunk(b"data: first\n\n"))
        await w.drain()
        await release.wait()
        return False

    server = await RawServer(handler).start()
    t = await _transport()
    try:
        resp = await t.send(UpstreamRequest("POST", f"{server.url}/s", {}, b"{}", True))
        chunks = resp.iter_chunks()
        assert await chunks.__anext__() == b"data: first\n\n"
        await chunks.aclose()  # type: ignore[attr-defined]
        conn = resp._resp._conn  # type: ignore[attr-defined]
        assert conn.closed
        release.set()
    finally:
        await t.close()
        await server.stop()
