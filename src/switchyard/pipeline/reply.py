"""What `handle` gives the HTTP layer to write — a whole answer (`Reply`) or a committed stream (`StreamReply`) —
and the one place a request's outcome (status, error) is decided: `answered`, `refused`, `left_early`, `broken`,
and the `StreamReply` for what happens after a stream's commit.

The HTTP layer writes replies and nothing else: a `StreamReply` is told when the caller went away (`left`) and is
always closed (`close`), which settles the stream and finishes the request (`finish.py`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ..errors import GatewayError, redact
from ..providers.base import UpstreamError
from .context import RequestContext
from .exchange import Exchange
from .finish import finish

log = logging.getLogger("switchyard.proxy")

JSON = b"application/json"
SSE = b"text/event-stream"
SSE_HEADERS = [(b"content-type", SSE), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


@dataclass(slots=True)
class Reply:
    """A whole answer. `body` None: nothing to send (the caller left before its request was read). With
    `content_type` SSE (a cached stream) the headers are complete and no length is sent, as for a live stream.

    The HTTP layer writes it, then calls `close`, which finishes the request (`finish.py`: limits settled, record
    queued, metrics): the caller has its answer before the gateway does its accounting, not after."""

    status: int
    body: bytes | None
    headers: list[tuple[bytes, bytes]]
    content_type: bytes = JSON
    ending: tuple[Any, Exchange] | None = None  # (deps, exchange) to finish; set by `handle`

    def close(self) -> None:
        """Always called once the answer is written (or could not be); finishes the request exactly once."""
        ending, self.ending = self.ending, None
        if ending is not None:
            finish(*ending)


def outcome_headers(ctx: RequestContext) -> list[tuple[bytes, bytes]]:
    overhead = b"%.3f" % ctx.overhead_ms()
    if ctx.provider:
        return [(b"switchyard-overhead-ms", overhead), (b"helicone-provider", ctx.provider.encode())]
    return [(b"switchyard-overhead-ms", overhead)]


def answered(x: Exchange, data: bytes, content_type: bytes = JSON) -> Reply:
    """A 200 with the whole answer (from an upstream, or from the cache: SSE bytes of a stream replayed)."""
    ctx = x.ctx
    ctx.status = 200
    headers = x.out_headers + outcome_headers(ctx)
    return Reply(200, data, SSE_HEADERS + headers if content_type == SSE else headers, content_type)


def refused(x: Exchange, e: GatewayError) -> Reply:
    """An error answer in the caller's format (bad input, a limit, every attempt failed, ...)."""
    ctx = x.ctx
    ctx.status, ctx.error = e.status, e.message
    payload = ctx.response_body = x.spec.error_body(e)
    extra = [(k.encode(), v.encode()) for k, v in e.headers.items()]
    return Reply(e.status, payload, x.out_headers + extra)


def left_early(x: Exchange) -> Reply:
    """The caller went away before its request was read: nothing to answer."""
    ctx = x.ctx
    ctx.status, ctx.error = 499, "client disconnected before the request was read"
    return Reply(499, None, [])


def broken(x: Exchange) -> Reply:
    """A bug, not bad input: a 500 in the caller's format; the trace goes to the server log (call in `except`)."""
    ctx = x.ctx
    rid = ctx.helicone.request_id
    log.exception("unhandled error serving %s (request %s)", ctx.path, rid)
    ctx.status, ctx.error = 500, "internal gateway error"
    err = GatewayError(500, f"Internal gateway error (request {rid}).", code="internal_error")
    return Reply(500, x.spec.error_body(err), x.out_headers)


class StreamReply:
    """A stream whose first content is ready: status 200 and `headers`, then every chunk of `chunks()`."""

    __slots__ = ("_all_sent", "_deps", "_stream", "_x", "headers")

    status = 200

    def __init__(self, deps: Any, x: Exchange, stream: Any) -> None:
        self._deps, self._x, self._stream = deps, x, stream
        self._all_sent = False  # every byte of the answer was handed over (only the end of the body left)
        ctx = x.ctx
        ctx.mark_first_token()
        ctx.status = 200
        self.headers = SSE_HEADERS + x.out_headers + outcome_headers(ctx)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The caller's bytes; an upstream failure after the commit ends them with an error event in the caller's
        format (the status stays 200: it is already sent)."""
        stream, ticket = self._stream, self._x.ticket
        try:
            if ticket is not None:
                ticket.keep(stream.first)
            yield stream.first
            async for out in stream.rest():
                if ticket is not None:
                    ticket.keep(out)
                yield out
            self._all_sent = True
        except UpstreamError as e:
            self._x.ctx.error = f"stream interrupted: {redact(e.message)}"
            yield stream.error_bytes(e)
        except Exception as e:
            self.failed(e)

    def failed(self, exc: BaseException) -> None:
        """A bug while streaming (ours, not the upstream's): logged with its trace, recorded as a 500."""
        ctx = self._x.ctx
        log.error(
            "unhandled error streaming %s (request %s)", ctx.path, ctx.helicone.request_id, exc_info=exc
        )
        ctx.status, ctx.error = 500, "internal gateway error"

    def left(self) -> None:
        """The caller went away (or its connection broke) before the end. One that leaves right after the end
        marker (`[DONE]`, a stop reason) read the whole answer."""
        ctx = self._x.ctx
        if ctx.error is None and not self._all_sent and not getattr(self._stream.pump, "finished", False):
            ctx.error = "client disconnected during the stream"

    def close(self) -> None:
        """Always called once the writing is over: usage, cost and credits from what was streamed, then the end
        of the request (record, limits, cache save)."""
        try:
            self._stream.finish()
            self._stream.close()
        finally:
            finish(self._deps, self._x)
