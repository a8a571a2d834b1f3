"""Response header names are read through a bounded memo of their lower-case form (providers/http1_connection.py
`_NAMES`): the headers come out as before (lower-case, repeated ones joined), whatever the case or length, and
made-up names cannot grow the memo without bound."""

from __future__ import annotations

import asyncio

from support.raw_http import RawRequest, RawServer
from switchyard.providers import http1_connection as conn_mod
from switchyard.providers.http1 import Pool

T = {"connect_timeout": 2.0, "read_timeout": 2.0, "total_timeout": 10.0}


async def _server_answering(names: list[str]) -> RawServer:
    """A raw server whose every answer carries `names` as headers, valued v0, v1, ..., and the body "ok"."""
    head = "HTTP/1.1 200 OK\r\n" + "".join(f"{n}: v{i}\r\n" for i, n in enumerate(names))
    answer = (head + "content-length: 2\r\n\r\n").encode("latin-1") + b"ok"

    async def handler(req: RawRequest, w: asyncio.StreamWriter) -> bool:
        w.write(answer)
        await w.drain()
        return True

    return await RawServer(handler).start()


async def test_names_are_lower_case_and_repeats_joined_on_every_response() -> None:
    long_name = "X-" + "Long" * 40  # not memoised (over 64 bytes), still read
    names = ["X-Request-Id", "x-request-id", "Set-Cookie", "SET-COOKIE", long_name, "Content-Type"]
    server = await _server_answering(names)
    pool = Pool()
    try:
        for _ in range(3):  # first with the memo cold, then warm
            resp = await pool.request("GET", f"{server.url}/", {}, b"", **T)
            assert await resp.read() == b"ok"
            assert resp.headers["x-request-id"] == "v0, v1"
            assert resp.headers["set-cookie"] == "v2, v3"
            assert resp.headers[long_name.lower()] == "v4"
            assert resp.headers["content-type"] == "v5"
        assert long_name.encode() not in conn_mod._NAMES
        assert conn_mod._NAMES[b"X-Request-Id"] == "x-request-id"
    finally:
        await pool.close()
        await server.stop()


async def test_the_memo_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(conn_mod, "_NAMES", {})
    monkeypatch.setattr(conn_mod, "_MAX_NAMES", 4)
    names = [f"X-Made-Up-{i}" for i in range(10)]
    server = await _server_answering(names)
    pool = Pool()
    try:
        resp = await pool.request("GET", f"{server.url}/", {}, b"", **T)
        assert await resp.read() == b"ok"
        assert [resp.headers[n.lower()] for n in names] == [f"v{i}" for i in range(10)]
        assert len(conn_mod._NAMES) == 4
    finally:
        await pool.close()
        await server.stop()
