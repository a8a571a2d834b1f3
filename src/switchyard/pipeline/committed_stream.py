"""A committed stream: the rest of the upstream bytes, its failure, its settlement — and, opt-in, its
continuation on another provider.

Continuation (`Switchyard-Stream-Continuation: true`, OpenAI chat callers): when the upstream breaks after
content reached the caller, the next untried attempt of the plan is asked to continue — the caller's messages
plus the text produced so far as a trailing assistant message (a prefill, which Anthropic-format models continue
verbatim) — and its chunks are rewritten to carry the first stream's id, model and creation time, without a
second role preamble. The caller reads one uninterrupted stream; the log keeps both attempts, the second marked
"continuation", and the whole text as the answer. Streams with tool calls, several choices, or other caller
formats are not continued (their event sequences cannot be spliced without the caller noticing): they end with
an error event as usual.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import GatewayError, redact
from ..formats.sse import SSEDecoder
from ..observe.cost import cost_usd, read_usage
from ..providers.base import UpstreamError
from ..providers.scrub import scrub
from .call import StreamStart
from .context import RequestContext
from .exchange import Exchange
from .model_override import priced_endpoint
from .plan import Attempt


def settle(ctx: RequestContext, attempt: Attempt, usage: Any, model: Any) -> None:
    """Apply the answering attempt's outcome to the request: who answered, usage, cost."""
    ctx.provider = attempt.provider.id
    ctx.model = model if isinstance(model, str) and model else attempt.provider_model_id
    ctx.registry_model = attempt.model.id if attempt.model else None
    override = ctx.model_override
    if (
        override is not None
    ):  # Helicone-Model-Override: recorded as, and priced as when unpriced (model_override.py)
        ctx.model = override.name
    u = read_usage(usage)
    if u is not None:
        ctx.usage = u
        ctx.cost_usd = cost_usd(u, priced_endpoint(override, attempt.provider.id, attempt.endpoint))


class Seam:
    """Rewrites a continuation's OpenAI chat SSE so it reads as the rest of the first stream."""

    __slots__ = ("_created", "_id", "_model", "_sse")

    def __init__(self, stream_id: Any, created: Any, model: Any) -> None:
        self._sse = SSEDecoder()
        self._id, self._created, self._model = stream_id, created, model

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for ev in self._sse.feed(data):
            if ev.data == "[DONE]":
                out.append(b"data: [DONE]\n\n")
                continue
            chunk = orjson.loads(ev.data)
            if isinstance(chunk, dict):
                if self._id is not None:
                    chunk["id"] = self._id
                if self._created is not None:
                    chunk["created"] = self._created
                if self._model is not None:
                    chunk["model"] = self._model
                for ch in chunk.get("choices") or ():
                    delta = ch.get("delta")
                    if isinstance(delta, dict):
                        delta.pop("role", None)
            out.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
        return b"".join(out)


class OpenStream:
    """A stream whose first content is ready (`first`); iterate `rest()` for the remainder."""

    def __init__(
        self,
        executor: Any,
        x: Exchange,
        attempt: Attempt,
        start: StreamStart,
        hold: Any,
        body: dict[str, Any],
    ) -> None:
        self.executor, self.x, self.ctx, self.attempt = executor, x, x.ctx, attempt
        self.surface: Any = x.surface
        self.start = start
        self.first = start.first
        self.pump = start.pump
        self._hold = hold
        self._body = body  # what this stream's attempts were sent (a continuation's carries the text so far)
        self._prefix = ""  # text of earlier, broken streams (continuation)
        self._seam: Seam | None = None

    async def rest(self):  # -> AsyncIterator[bytes]
        """The rest of the upstream's bytes through the pump (one generator: the drain is written inline)."""
        while True:
            try:
                chunks = self.start.chunks
                if chunks is not None:
                    seam = self._seam
                    async for data in chunks:
                        out = self.pump.feed(data)
                        if out:
                            yield seam.feed(out) if seam else out
                    tail = self.pump.close()
                    if tail:
                        yield seam.feed(tail) if seam else tail
                return
            except UpstreamError as e:
                e.message = scrub(e.message, self.attempt.target)
                self.executor._observe(self.attempt, e.kind)
                first = await self._resume(e)
                if first is None:
                    raise
                if first:
                    yield first

    def _continuable(self) -> bool:
        opts = self.ctx.options
        if opts is None or not opts.continuation or self.surface.kind != "chat":
            return False
        body = self._body
        if body.get("n") not in (None, 1) or not isinstance(body.get("messages"), list):
            return False
        asm = getattr(self.pump, "assembler", None)
        if asm is None:
            return False
        choices = asm.result()["choices"]
        return len(choices) <= 1 and not (choices and choices[0]["message"].get("tool_calls"))

    async def _resume(self, e: UpstreamError) -> bytes | None:
        """Continue on the next untried attempt; None when continuation is off or impossible."""
        if not self._continuable():
            return None
        tried = {a.source for a in self.ctx.attempts}
        later = [a for a in self.x.attempts if a.source not in tried]
        if not later:
            return None
        asm = self.pump.assembler
        prefix = self._prefix + asm.text
        body = {**self._body, "messages": [*self._body["messages"], {"role": "assistant", "content": prefix}]}
        first_log = len(self.ctx.attempts)
        self.ctx.attempts[
            -1
        ].error = f"stream broke after content; continued on the next attempt: {redact(e.message)}"
        self.ctx.attempts[-1].kind = e.kind
        try:
            stream = await self.executor.open_stream(self.x, later, body)
        except GatewayError:
            return None
        for alog in self.ctx.attempts[first_log:]:
            alog.note = "continuation"
        self._settle_hold()
        self.start.close()
        if self._seam is None:
            self._seam = Seam(asm.id, asm.created, asm.model)
        self._prefix = prefix
        self.attempt, self.start, self.pump, self._hold = (
            stream.attempt,
            stream.start,
            stream.pump,
            stream._hold,
        )
        return self._seam.feed(stream.first)

    def error_bytes(self, e: UpstreamError) -> bytes:
        err = GatewayError(e.status if e.status >= 400 else 502, redact(e.message), code=e.kind)
        return self.surface.error_event(err)

    def _settle_hold(self) -> None:
        hold, self._hold = self._hold, None
        self.executor.end_hold(self.ctx, hold, answered=True)

    def finish(self) -> None:
        """Record usage and cost from what was streamed (also after an interruption), settle credits."""
        settle(self.ctx, self.attempt, self.pump.usage, self.pump.model)
        result = self.pump.result()
        if self._prefix and isinstance(result, dict):
            for ch in result.get("choices") or ():
                msg = ch.get("message")
                if isinstance(msg, dict):
                    msg["content"] = self._prefix + (msg.get("content") or "")
                    break
        self.ctx.response_body = result
        self._settle_hold()

    def close(self) -> None:
        self.start.close()
