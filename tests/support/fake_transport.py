"""The gateway's upstream client with the network replaced by a function, as httpx's MockTransport tests clients.

`FakeTransport` is the real `providers.transport.Transport` (its error classification and response wrapper run
unchanged) over a pool that hands every request to `handler(sent) -> Reply` instead of a socket. The pool does
what the real one does at its edges: it refuses requests the real client refuses to send (`encode_head`), honours
the first-byte / between-reads / total timeouts against the reply's pauses (a pause past a timeout is a timeout
after that timeout has passed), caps the response size, and breaks the exchange as the reply says ("connection" or
"timeout", before the response or mid-stream). Every request is kept in `sent`, with whether the gateway read it
to the end or closed it early (`closed_early`: the caller went away and the upstream read was aborted).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from switchyard.providers.egress_proxy import ProxySettings
from switchyard.providers.http1 import HTTPError
from switchyard.providers.request_head import encode_head, route_for
from switchyard.providers.transport import Timeouts, Transport

from .upstream_answers import Reply, answer


@dataclass
class Sent:
    """One request as it reached the fake upstream."""

    method: str
    url: str
    headers: dict[str, str]  # lowercase names
    raw: bytes
    timeouts: tuple[float, float, float]  # (connect, first byte / between reads, total) the gateway asked for
    closed_early: bool = False

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def body(self) -> Any:
        """The JSON body parsed, else the raw bytes."""
        try:
            return orjson.loads(self.raw) if self.raw else None
        except orjson.JSONDecodeError:
            return self.raw


Handler = Callable[[Sent], "Reply | Awaitable[Reply]"]


def recorded_provider(sent: Sent) -> Reply:
    """The default handler: the recorded provider answers of `upstream_answers.answer`."""
    return answer(sent.path, sent.body)


class _Response:
    """What `http1.Pool.request` returns: status and headers at once, the body read whole or in chunks."""

    def __init__(self, sent: Sent, reply: Reply, read_timeout: float, deadline: float, limit: int) -> None:
        self._sent, self._reply = sent, reply
        self._read_timeout, self._deadline, self._limit = read_timeout, deadline, limit
        self._done = False
        self.status = reply.status
        self.headers = {k.lower(): v for k, v in reply.headers.items()}

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_chunks()])

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        chunks = [self._reply.body] if self._reply.chunks is None else self._reply.chunks
        size = 0
        for chunk in chunks:
            if isinstance(chunk, float):
                await _pause(
                    chunk, min(self._read_timeout, self._deadline - time.monotonic()), "between reads"
                )
                continue
            size += len(chunk)
            if size > self._limit:
                self._done = True
                raise HTTPError(f"response body over {self._limit} bytes", too_large=True)
            if chunk:
                yield chunk
        self._done = True
        _fail(self._reply.fail, before_response=False)

    def close(self) -> None:
        if not self._done:
            self._sent.closed_early = True
        self._done = True


class FakePool:
    def __init__(self, handler: Handler, sent: list[Sent], max_response_bytes: int) -> None:
        self._handler, self._sent, self._limit = handler, sent, max_response_bytes

    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        *,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
    ) -> _Response:
        try:
            encode_head(method, route_for(url, ProxySettings()), headers, len(body))
        except ValueError as e:  # the real client refuses to write such a request
            raise HTTPError(str(e), invalid=True, before_response=True) from None
        deadline = time.monotonic() + total_timeout
        sent = Sent(
            method,
            url,
            {k.lower(): v for k, v in headers.items()},
            body,
            (connect_timeout, read_timeout, total_timeout),
        )
        self._sent.append(sent)
        reply = self._handler(sent)
        if inspect.isawaitable(reply):
            reply = await reply
        assert isinstance(reply, Reply), f"the fake upstream's handler returned {reply!r}"
        if reply.delay:
            await _pause(reply.delay, min(read_timeout, total_timeout), "waiting for the response")
        if reply.chunks is None and reply.fail:  # broken before the response
            _fail(reply.fail, before_response=True)
        return _Response(sent, reply, read_timeout, deadline, self._limit)

    async def close(self) -> None:
        pass


async def _pause(seconds: float, limit: float, what: str) -> None:
    if seconds <= limit:
        await asyncio.sleep(seconds)
        return
    await asyncio.sleep(max(limit, 0))
    raise HTTPError(f"timed out after {limit:g} s {what}", timeout=True)


def _fail(how: str | None, *, before_response: bool) -> None:
    if how == "timeout":
        raise HTTPError("read timed out", timeout=True, before_response=before_response)
    if how == "connection":
        raise HTTPError("connection reset by peer", before_response=before_response)
    assert how is None, f"unknown failure {how!r}"


class FakeTransport(Transport):
    """`Transport` whose pool is a `FakePool` around `handler`; pass it to `create_app(..., transport=...)`."""

    def __init__(
        self,
        handler: Handler = recorded_provider,
        *,
        timeouts: Timeouts | None = None,
        max_response_bytes: int = 256 << 20,
    ) -> None:
        super().__init__(
            timeouts=timeouts or Timeouts(10, 60, 600), max_response_bytes=max_response_bytes, env={}
        )
        self.handler = handler
        self.sent: list[Sent] = []
        self._max_response_bytes = max_response_bytes

    async def start(self) -> None:
        self._pool = FakePool(self._dispatch, self.sent, self._max_response_bytes)  # type: ignore[assignment]

    def _dispatch(self, sent: Sent) -> Reply | Awaitable[Reply]:
        return self.handler(sent)  # looked up per request: a test may swap the handler between requests

    def last(self, path_contains: str = "") -> Sent:
        for s in reversed(self.sent):
            if path_contains in s.path:
                return s
        raise AssertionError(
            f"no upstream request with {path_contains!r} in its path; sent: {[s.url for s in self.sent]}"
        )
