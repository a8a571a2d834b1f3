"""The proxy routes (chat completions, legacy completions, Anthropic messages, Responses, embeddings): raw ASGI on
the hot path. A route only reads the request and writes what `pipeline/handle.py` gives back — a whole answer, or
a stream written chunk by chunk while the caller's disconnect is watched. The request's steps, its outcome and
its record are the pipeline's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

from ..pipeline.handle import handle
from ..pipeline.reply import SSE, Reply, StreamReply
from .asgi import (
    ON_DISCONNECT,
    STREAM_START,
    WHOLE_RESPONSE,
    Receive,
    Scope,
    Send,
    declared_length,
    read_body,
    send_response,
)
from .content_encoding import check as check_encodings
from .content_encoding import codings, inflated
from .surfaces import SurfaceSpec

log = logging.getLogger("switchyard.proxy")


class HttpRequest:
    """What the pipeline may read of an ASGI request: its path and headers, and its body when asked for."""

    __slots__ = ("_receive", "_server", "path", "raw_headers")

    def __init__(self, scope: Scope, receive: Receive, server: Any) -> None:
        self.path: str = scope["path"]
        self.raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        self._receive, self._server = receive, server

    def read_body(self) -> Awaitable[bytes]:
        """The whole body: 415 for a Content-Encoding that cannot be undone (before reading), 413 over the size
        limit (a declared length before reading; an inflated gzip/deflate body too: no zip bombs), 408 past the
        deadline; ConnectionError when the caller leaves. (A plain body is read without a coroutine of its own.)"""
        server = self._server
        encodings = codings(self.raw_headers)
        check_encodings(encodings)
        raw = read_body(
            self._receive,
            server.max_body_bytes,
            timeout=server.body_timeout_seconds,
            declared=declared_length(self.raw_headers),
        )
        return _inflated(raw, encodings, server.max_body_bytes) if encodings else raw


async def _inflated(raw: Awaitable[bytes], encodings: list[str], limit: int) -> bytes:
    return await inflated(await raw, encodings, limit)


class ProxyRoute:
    """One caller surface (chat, legacy completions, Anthropic messages, Responses, embeddings) over the
    shared pipeline. `alternate` picks another surface per request (a Responses-shaped body on chat)."""

    def __init__(self, deps: Any, spec: SurfaceSpec, alternate: Any = None) -> None:
        self.deps = deps
        self.spec = spec
        self.alternate = alternate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reply = await handle(self.deps, self, HttpRequest(scope, receive, self.deps.settings.server))
        extensions = scope.get("extensions") or {}
        if isinstance(reply, StreamReply):
            start, watch = extensions.get(STREAM_START), extensions.get(ON_DISCONNECT)
            if start is not None and watch is not None:
                await _write_stream_watched(reply, send, start, watch)
            else:
                await _write_stream(reply, receive, send)
            return
        try:  # the answer first, then the request's accounting (Reply.close → pipeline/finish.py)
            if reply.body is not None:
                whole = extensions.get(WHOLE_RESPONSE)
                try:  # (not contextlib.suppress: ~4k instructions a request for the same thing)
                    if whole is not None and reply.content_type != SSE:
                        whole(reply.status, reply.headers, reply.body, reply.content_type)  # one write
                    else:
                        await _write(reply, send)
                except (OSError, RuntimeError):
                    pass  # the caller is gone: nothing to write to
        finally:
            reply.close()


async def _write(reply: Reply, send: Send) -> None:
    if reply.content_type == SSE:  # a cached stream: replayed in one piece, framed as a live stream
        await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
        await send({"type": "http.response.body", "body": reply.body, "more_body": False})
    else:
        await send_response(send, reply.status, reply.body or b"", reply.headers, reply.content_type)


async def _write_stream_watched(reply: StreamReply, send: Send, start: Any, watch: Any) -> None:
    """Write the stream in this task; the server calls back when the caller leaves, which cancels the writing
    (and with it the upstream). Two tasks and an asyncio.wait per stream fewer than `_write_stream`."""
    task = asyncio.current_task()
    assert task is not None
    left = False

    def disconnected() -> None:  # runs only while the pump is suspended: never after it has ended
        nonlocal left
        left = True
        task.cancel()

    watch(disconnected)
    try:
        await _pump(reply, send, start)
    except asyncio.CancelledError:
        reply.left()
        if not left:
            raise  # not the caller leaving: the server is cancelling this request
        task.uncancel()
    except Exception as exc:
        reply.failed(exc)  # a bug while writing: a 500 in the log, the trace in the server log
    finally:
        watch(None)
        reply.close()


async def _write_stream(reply: StreamReply, receive: Receive, send: Send) -> None:
    """Write the stream while watching for the caller's disconnect; when it leaves, the upstream is stopped too
    (for servers without the gateway's disconnect callback: another ASGI server, the in-process tests)."""
    pump = asyncio.ensure_future(_pump(reply, send, None))
    watch = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        await asyncio.wait((pump, watch), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not pump.done():  # the caller went away: stop the upstream too
            pump.cancel()
            reply.left()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        elif not pump.cancelled() and (exc := pump.exception()) is not None:
            reply.failed(exc)  # a bug while writing: a 500 in the log, the trace in the server log
        watch.cancel()
        reply.close()


async def _pump(reply: StreamReply, send: Send, start: Any) -> None:
    chunks = reply.chunks()
    try:
        if start is not None:  # the head and the first chunk in one write (api/server_cycle.py)
            start(reply.status, reply.headers, await anext(chunks, b""))
        else:
            await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
        async for out in chunks:
            await send({"type": "http.response.body", "body": out, "more_body": True})
    except OSError:
        reply.left()
        return
    with contextlib.suppress(OSError):
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return
