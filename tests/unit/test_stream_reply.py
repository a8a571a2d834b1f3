"""pipeline/reply.py StreamReply: how a committed stream's outcome is decided (the writer only reports)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from switchyard.api import surfaces
from switchyard.pipeline.context import RequestContext
from switchyard.pipeline.exchange import Exchange
from switchyard.pipeline.headers import HeliconeHeaders
from switchyard.pipeline.reply import SSE, StreamReply
from switchyard.providers.base import UpstreamError


class FakeStream:
    def __init__(self, chunks: list[bytes], fail: UpstreamError | None = None, finished: bool = False):
        self.first, self._chunks, self._fail = chunks[0], chunks[1:], fail
        self.pump = SimpleNamespace(finished=finished)
        self.events: list[str] = []

    async def rest(self):
        for c in self._chunks:
            yield c
        if self._fail is not None:
            raise self._fail

    def error_bytes(self, e: UpstreamError) -> bytes:
        return b"event: error\n\n"

    def finish(self) -> None:
        self.events.append("finish")

    def close(self) -> None:
        self.events.append("close")


def _reply(stream: FakeStream) -> tuple[StreamReply, RequestContext, list]:
    finished: list = []
    deps = SimpleNamespace(
        tracing=None,
        access_log=None,
        metrics=SimpleNamespace(finished=lambda ctx, cache: finished.append(cache)),
    )
    ctx = RequestContext(path="/v1/chat/completions", helicone=HeliconeHeaders(request_id="r", uid="u"))
    x = Exchange(ctx, surfaces.CHAT, {}, [(b"helicone-id", b"r")])
    return StreamReply(deps, x, stream), ctx, finished


async def _drain(reply: StreamReply) -> list[bytes]:
    return [c async for c in reply.chunks()]


def test_a_clean_stream_is_a_200_without_error_and_finishes_once():
    stream = FakeStream([b"a", b"b"])
    reply, ctx, finished = _reply(stream)
    assert (
        reply.status == 200
        and (b"content-type", SSE) in reply.headers
        and (b"helicone-id", b"r") in reply.headers
    )
    assert asyncio.run(_drain(reply)) == [b"a", b"b"]
    reply.left()  # a caller that leaves after the whole answer read it all
    reply.close()
    assert (ctx.status, ctx.error) == (200, None)
    assert stream.events == ["finish", "close"] and finished == ["off"]


def test_an_upstream_failure_after_the_commit_ends_with_an_error_event():
    reply, ctx, _ = _reply(
        FakeStream([b"a"], fail=UpstreamError(502, "server", "boom sk-abcdefghijklmnopqrstuvwx"))
    )
    assert asyncio.run(_drain(reply)) == [b"a", b"event: error\n\n"]
    reply.close()
    assert ctx.status == 200 and ctx.error.startswith("stream interrupted: boom")
    assert "sk-abcdefghijklmnopqrstuvwx" not in ctx.error  # redacted


def test_a_caller_leaving_mid_stream_is_recorded_unless_the_end_marker_was_sent():
    reply, ctx, _ = _reply(FakeStream([b"a", b"b"]))
    reply.left()
    assert ctx.error == "client disconnected during the stream"
    reply, ctx, _ = _reply(FakeStream([b"a", b"b"], finished=True))  # [DONE] / stop reason already forwarded
    reply.left()
    assert ctx.error is None


def test_a_bug_while_streaming_is_a_500_in_the_log():
    reply, ctx, _ = _reply(FakeStream([b"a"]))
    reply.failed(RuntimeError("bug"))
    reply.close()
    assert (ctx.status, ctx.error) == (500, "internal gateway error")
