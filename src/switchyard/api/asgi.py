"""Minimal ASGI I/O for the hot routes (no Request/Response objects, no task group per response) and the body
limits every route shares: size (413, a declared Content-Length refused before reading) and deadline (408)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from typing import Any

import orjson

from ..errors import GatewayError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
RawHeaders = list[tuple[bytes, bytes]]

JSON = b"application/json"
SSE = b"text/event-stream"

# The ASGI extension (scope["extensions"]) of a server that writes a whole answer in one call:
# write(status, headers, body, content_type), synchronous; see api/server_cycle.py.
WHOLE_RESPONSE = "switchyard.whole_response"
# ... and one that writes a chunked answer's head with its first chunk: start(status, headers, first), synchronous;
# the rest of the stream goes through `send`.
STREAM_START = "switchyard.stream_start"
# ... and one that calls back when the caller's connection is lost: watch(callback | None), synchronous.
ON_DISCONNECT = "switchyard.on_disconnect"


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        413, f"Request body is larger than the gateway's limit of {limit} bytes.", code="request_too_large"
    )


def too_slow(timeout: float) -> GatewayError:
    """408 for a body that did not arrive in time; the connection is closed (the rest of the body may still come)."""
    return GatewayError(
        408,
        f"The request body was not received within {timeout:g} seconds.",
        code="request_timeout",
        headers={"connection": "close"},
    )


def declared_length(raw: RawHeaders) -> int | None:
    """The Content-Length a request declares (the HTTP parser has already refused malformed ones)."""
    for name, value in raw:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _Deadline:
    """The deadline of one body read (see `read_body`: armed only when a read has to wait)."""

    __slots__ = ("_handle", "_task", "expired", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self.expired = False

    def arm(self) -> None:
        if self._handle is None:
            self._task = asyncio.current_task()
            self._handle = asyncio.get_running_loop().call_later(self.timeout, self._expire)

    def _expire(self) -> None:
        self.expired = True
        assert self._task is not None
        self._task.cancel()  # lands in the read that is waiting: the timer only runs while one waits

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def took_back(self) -> bool:
        """After a CancelledError: whether it was this deadline's (the cancellation is then withdrawn)."""
        if not self.expired or self._task is None:
            return False
        return self._task.uncancel() == 0


class _Resume:
    """Finish awaiting a read that `read_body` started by hand and that suspended on `waiting`."""

    __slots__ = ("_it", "_waiting")

    def __init__(self, it: Generator[Any, Any, Message], waiting: Any) -> None:
        self._it = it
        self._waiting = waiting

    def __await__(self) -> Generator[Any, Any, Message]:
        it, waiting = self._it, self._waiting
        while True:  # what `yield from it` does
            try:
                sent = yield waiting
            except GeneratorExit:
                it.close()
                raise
            except BaseException as exc:
                try:
                    waiting = it.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting = it.send(sent)
                except StopIteration as done:
                    return done.value


async def read_body(
    receive: Receive, limit: int, *, timeout: float | None = None, declared: int | None = None
) -> bytes:
    """The whole request body, at most `limit` bytes (413; a declared Content-Length over it is refused before a
    byte is read) and received within `timeout` seconds of the first wait for it (408)."""
    if declared is not None and declared > limit:
        raise too_large(limit)
    deadline: _Deadline | None = None
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            # Started by hand: a read that completes at once (a small body, already received) costs no timer;
            # the deadline starts at the first read that has to wait.
            it = receive().__await__()
            try:
                waiting = it.send(None)
            except StopIteration as done:
                msg = done.value
            else:
                if deadline is None and timeout is not None:
                    deadline = _Deadline(timeout)
                    deadline.arm()
                msg = await _Resume(it, waiting)
            if msg["type"] == "http.disconnect":
                raise ConnectionError("client disconnected while sending the body")
            chunk = msg.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                chunks.append(chunk)
            if not msg.get("more_body", False):
                break
    except asyncio.CancelledError:
        if deadline is not None and deadline.took_back():
            raise too_slow(deadline.timeout) from None
        raise
    finally:
        if deadline is not None:
            deadline.close()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class GuardedReceive:
    """`receive` for routes that read the body themselves (Starlette's Request): the same limits as `read_body`,
    checked as the route reads — nothing is read before the route asks, so it can authenticate first. Raises
    GatewayError (413, 408); once the body is complete, messages (a disconnect) pass through untimed."""

    __slots__ = ("_deadline", "_declared", "_done", "_limit", "_receive", "_size", "_timeout")

    def __init__(self, receive: Receive, raw_headers: RawHeaders, limit: int, timeout: float) -> None:
        self._receive = receive
        self._limit = limit
        self._timeout = timeout
        self._declared = declared_length(raw_headers)
        self._deadline: float | None = None
        self._size = 0
        self._done = False

    async def __call__(self) -> Message:
        if self._done:
            return await self._receive()
        if self._deadline is None:
            if self._declared is not None and self._declared > self._limit:
                raise too_large(self._limit)
            self._deadline = asyncio.get_running_loop().time() + self._timeout
        try:
            async with asyncio.timeout_at(self._deadline):
                msg = await self._receive()
        except TimeoutError:
            raise too_slow(self._timeout) from None
        if msg["type"] != "http.request":
            self._done = True
            return msg
        self._size += len(msg.get("body", b""))
        if self._size > self._limit:
            raise too_large(self._limit)
        self._done = not msg.get("more_body", False)
        return msg


async def send_response(
    send: Send, status: int, body: bytes, headers: RawHeaders, content_type: bytes = JSON
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, obj: Any, headers: RawHeaders | None = None) -> None:
    await send_response(send, status, orjson.dumps(obj), headers or [])


def content_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()
