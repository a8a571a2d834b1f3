"""A real HTTP mock upstream on loopback that replays recorded provider traffic (`upstream_answers.answer`).

The scenario is chosen by a marker in the last user message, e.g. "[[tools]]" or "[[error:429]]"; with no
marker the recorded plain-text answer is replayed. Every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from support.threaded_app import ThreadedApp

from .upstream_answers import Reply, answer


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class MockUpstream:
    host: str = "127.0.0.1"
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    _server: ThreadedApp | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MockUpstream:
        self._server = ThreadedApp(self._handle, name="mock-upstream", max_body=64 * 1024 * 1024)
        self.port = self._server.start(self.host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def last(self, path_contains: str = "") -> Seen:
        for s in reversed(self.seen):
            if path_contains in s.path:
                return s
        raise AssertionError(f"no upstream request with {path_contains!r} in its path")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw
        self.seen.append(Seen(request.path, {k.lower(): v for k, v in request.headers.items()}, body))
        return await serve(request, answer(request.path, body))


async def serve(request: web.Request, reply: Reply) -> web.StreamResponse:
    """Send a `Reply` over aiohttp (pauses included); a loopback server cannot fake a timeout or a reset."""
    assert reply.fail is None, "a loopback upstream answers every request"
    if reply.delay:
        await asyncio.sleep(reply.delay)
    if reply.chunks is None:
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
    resp = web.StreamResponse(status=reply.status, headers=reply.headers)
    await resp.prepare(request)
    for chunk in reply.chunks:
        if isinstance(chunk, float):
            await asyncio.sleep(chunk)
        else:
            await resp.write(chunk)
    await resp.write_eof()
    return resp
