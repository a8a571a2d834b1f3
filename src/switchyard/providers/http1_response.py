"""The response side of the upstream client (`http1.py`): one exchange's buffer, the body reader, and the
gzip/deflate decoder with its expansion cap.

The connection appends body bytes to the exchange and pauses reading above `HIGH_WATER` buffered bytes; the
reader resumes it below `LOW_WATER`. A gzip or deflate body (Content-Encoding) is decoded as it is read,
streamed or whole, and never to more than `max_response_bytes`.
"""

from __future__ import annotations

import asyncio
import collections
import time
import zlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from .http1_deadlines import Deadlines

if TYPE_CHECKING:
    from .http1_connection import Connection

HIGH_WATER = 1 << 20  # pause reading from the upstream when this much is buffered for a slow consumer
LOW_WATER = 1 << 18


class HTTPError(Exception):
    """Transport-level failure. `timeout` tells a timeout apart from a broken or refused connection; `too_large`
    is a response over the size cap; `invalid` a request the client refused to send."""

    def __init__(
        self,
        message: str,
        *,
        timeout: bool = False,
        before_response: bool = False,
        too_large: bool = False,
        invalid: bool = False,
    ) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.before_response = before_response  # nothing of the response was received
        self.too_large = too_large
        self.invalid = invalid


class Exchange:
    __slots__ = (
        "buffered",
        "chunks",
        "deadlines",
        "done",
        "error",
        "head",
        "headers",
        "received",
        "status",
        "waiter",
    )

    def __init__(self, deadlines: Deadlines) -> None:
        self.deadlines = deadlines  # the pool's: the timeouts of its waits (`http1_deadlines.py`)
        self.head = False  # status and headers of the final (non-1xx) response have arrived
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0  # received, not yet taken by the reader
        self.received = 0  # body bytes received in all
        self.done = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if self.done:
            return
        self.error = exc
        self.wake()

    async def wait(self, timeout: float) -> None:
        """Until the connection reports something (the head, body bytes, the end, a failure): TimeoutError after
        `timeout` seconds. One future per wait, its deadline kept by the pool's `Deadlines` (asyncio.timeout and
        shield cost several objects and callbacks, on every request; a timer handle per wait, most of the wait's
        cost). Cancelling the waiting task cancels only this private future: the connection's state is untouched,
        and a cancellation is never swallowed (asyncio.wait_for on 3.11 can lose one that arrives as the future
        completes)."""
        loop = asyncio.get_running_loop()
        w = self.waiter = loop.create_future()
        own = self.deadlines.add(loop, w, timeout)
        try:
            await w
        finally:
            self.deadlines.end(w, own)
            self.waiter = None


class _Inflater:
    """gzip / deflate (zlib-wrapped, or raw as some servers send it) → bytes, at most `limit` of them."""

    __slots__ = ("_d", "_encoding", "_fed", "_limit", "_out")

    def __init__(self, encoding: str, limit: int) -> None:
        self._encoding = "gzip" if encoding == "x-gzip" else encoding
        self._d = zlib.decompressobj(47 if self._encoding == "gzip" else 15)
        self._limit = limit
        self._out = 0
        self._fed = False

    def feed(self, data: bytes) -> bytes:
        try:
            out = self._d.decompress(data, self._limit - self._out + 1)
        except zlib.error as e:
            if self._encoding != "deflate" or self._fed:
                raise HTTPError(f"upstream sent a corrupt {self._encoding} body: {e}") from None
            self._d = zlib.decompressobj(-15)  # raw deflate
            self._fed = True
            return self.feed(data)
        self._fed = True
        self._out += len(out)
        if self._out > self._limit:
            raise HTTPError(
                f"upstream's {self._encoding} body expands past upstream.max_response_bytes "
                f"({self._limit} bytes)",
                too_large=True,
            )
        return out

    def finish(self) -> bytes:
        if self._fed and not self._d.eof:
            raise HTTPError(f"upstream sent a truncated {self._encoding} body")
        return b""


class Response:
    """Status and headers have arrived; the body is read whole (`read`) or as it comes (`iter_chunks`)."""

    __slots__ = ("_conn", "_deadline", "_ex", "_limit", "_read_timeout", "headers", "status")

    def __init__(
        self, conn: Connection, ex: Exchange, read_timeout: float, deadline: float, limit: int
    ) -> None:
        self._conn = conn
        self._ex = ex
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._limit = limit
        self.status = ex.status
        self.headers = ex.headers

    async def _next(self) -> bytes | None:
        ex = self._ex
        while True:
            if ex.chunks:
                chunk = ex.chunks.popleft()
                self._conn.consumed(ex, len(chunk))
                return chunk
            if ex.error is not None:
                raise ex.error
            if ex.done:
                return None
            try:
                # not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as the waiter
                # completes, and a fast upstream always has the next chunk ready, so a stream whose caller left
                # was read to its end (every token paid for, up to max_response_bytes held for the log)
                await ex.wait(min(self._read_timeout, self._deadline - time.monotonic()))
            except TimeoutError:
                self.close()
                raise HTTPError("upstream response stalled past the timeout", timeout=True) from None

    async def iter_chunks(
        self, failure: Callable[[HTTPError], Exception] | None = None
    ) -> AsyncIterator[bytes]:
        """The body as it comes, decoded. `failure`: what an HTTPError becomes for the consumer (the transport's
        UpstreamError), so that no second generator has to wrap this one to translate it."""
        encoding = self.headers.get("content-encoding", "").strip().lower()
        inflater = _Inflater(encoding, self._limit) if encoding in ("gzip", "x-gzip", "deflate") else None
        try:
            while (chunk := await self._next()) is not None:
                if inflater is not None:
                    chunk = inflater.feed(chunk)
                    if not chunk:
                        continue
                yield chunk
            if inflater is not None:
                inflater.finish()
        except HTTPError as e:
            if failure is None:
                raise
            raise failure(e) from None
        finally:
            if not self._ex.done:
                self.close()

    async def read(self) -> bytes:
        ex = self._ex
        if ex.done and ex.error is None and "content-encoding" not in self.headers:
            # the usual small answer: all of it arrived with the head, nothing to wait for or decode
            parts = list(ex.chunks)
            ex.chunks.clear()
            self._conn.consumed(ex, ex.buffered)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        parts = [c async for c in self.iter_chunks()]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        """Abandon the response: the connection is closed (never reused mid-body), the upstream stops."""
        if not self._ex.done:
            self._ex.fail(HTTPError("response abandoned"))
            self._conn.close()
