"""Stream pumps: upstream bytes in, caller bytes out, with the assembled answer and usage kept for the log.

`PassthroughPump` serves a caller speaking the upstream's own format (OpenAI-compatible → OpenAI): events are
forwarded as their original text, never re-serialised; only the usage-only chunk is dropped when the caller did
not ask for usage (the gateway always asks upstream for it). `TranslatingPump` runs a provider's stream parser
and re-encodes each OpenAI chunk for the caller's surface.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from ..formats.sse import SSEDecoder
from ..observe.assemble import StreamAssembler
from ..providers.base import StreamParser, UpstreamError

DONE = b"data: [DONE]\n\n"


class Surface(Protocol):
    object_name: str

    def chunk(self, chunk: dict[str, Any]) -> bytes: ...
    def done(self) -> bytes: ...


def _is_usage_only(chunk: dict[str, Any]) -> bool:
    return chunk.get("usage") is not None and not chunk.get("choices")


class _Assembled:
    """What every pump reports for the log: usage, model, and the answer it amounted to."""

    __slots__ = ()
    assembler: StreamAssembler

    @property
    def usage(self) -> Any:
        return self.assembler.usage

    @property
    def model(self) -> Any:
        return self.assembler.model

    def result(self) -> Any:
        return self.assembler.result()

    @property
    def has_output(self) -> bool:
        return self.assembler.has_output


class PassthroughPump(_Assembled):
    __slots__ = ("_done", "_include_usage", "_sse", "assembler")

    def __init__(self, include_usage: bool, object_name: str) -> None:
        self._sse = SSEDecoder()
        self._include_usage = include_usage
        self._done = False
        self.assembler = StreamAssembler(
            "text_completion" if object_name == "text_completion" else "chat.completion"
        )

    def feed(self, data: bytes) -> bytes:
        return self._encode(self._sse.feed(data))

    @property
    def finished(self) -> bool:
        """The caller has been sent the whole answer (its end marker included)."""
        return self._done

    def close(self) -> bytes:
        out = self._encode(self._sse.close())
        if self._done:
            return out
        if self.assembler.ended:  # some OpenAI-compatible servers end without [DONE]: complete the framing
            return out + DONE
        raise UpstreamError(502, "server", "upstream stream ended before the answer was complete")

    def _encode(self, events: list[Any]) -> bytes:
        out: list[bytes] = []
        asm = self.assembler
        for ev in events:
            data = ev.data
            if data == "[DONE]":
                self._done = True
                out.append(DONE)
                continue
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise UpstreamError(502, "server", "upstream sent a stream event that is not JSON") from None
            if not isinstance(chunk, dict):
                raise UpstreamError(502, "server", "upstream sent a stream event that is not an object")
            if "error" in chunk and not chunk.get("choices"):
                err = chunk["error"]
                msg = err.get("message") if isinstance(err, dict) else str(err)
                raise UpstreamError(502, "server", f"upstream reported an error mid-stream: {msg}")
            asm.feed(chunk)
            if not self._include_usage and _is_usage_only(chunk):
                continue
            raw = ev.raw
            if raw is not None:  # one `data: ` line, as received
                out.append(raw + b"\n\n")
            elif "\n" in data:  # a multi-line event: keep every line a `data:` field
                out.append(b"".join(b"data: " + line.encode() + b"\n" for line in data.split("\n")) + b"\n")
            else:
                out.append(b"data: " + data.encode() + b"\n\n")
        return b"".join(out)


class TranslatingPump(_Assembled):
    __slots__ = ("_include_usage", "_parser", "_surface", "assembler")

    def __init__(self, parser: StreamParser, surface: Surface, include_usage: bool) -> None:
        self._parser = parser
        self._surface = surface
        self._include_usage = include_usage
        self.assembler = StreamAssembler(
            "text_completion" if surface.object_name == "text_completion" else "chat.completion"
        )

    def feed(self, data: bytes) -> bytes:
        return self._encode(self._parser.feed(data))

    def close(self) -> bytes:
        return self._encode(self._parser.close()) + self._surface.done()

    def _encode(self, chunks: list[dict[str, Any]]) -> bytes:
        out: list[bytes] = []
        for chunk in chunks:
            self.assembler.feed(chunk)
            if not self._include_usage and _is_usage_only(chunk):
                continue
            out.append(self._surface.chunk(chunk))
        return b"".join(out)


class RawPump(_Assembled):
    """The caller speaks the upstream's own (non-OpenAI) format, e.g. Anthropic → Anthropic: bytes go through
    untouched; a copy is decoded by the provider's stream parser for usage, the log, and error detection."""

    __slots__ = ("_parser", "assembler")

    def __init__(self, parser: StreamParser) -> None:
        self._parser = parser
        self.assembler = StreamAssembler()

    def feed(self, data: bytes) -> bytes:
        for chunk in self._parser.feed(data):
            self.assembler.feed(chunk)
        return data

    @property
    def finished(self) -> bool:
        """The stop reason has been forwarded: the caller holds the whole answer."""
        return self.assembler.finished

    def close(self) -> bytes:
        for chunk in self._parser.close():
            self.assembler.feed(chunk)
        return b""


class ReframingPump(RawPump):
    """The upstream wraps the caller's own format in another envelope (Bedrock's event stream around Anthropic
    events): unwrap it, then forward and decode as `RawPump` does."""

    __slots__ = ("_reframer",)

    def __init__(self, reframer: Any, parser: StreamParser) -> None:
        super().__init__(parser)
        self._reframer = reframer

    def feed(self, data: bytes) -> bytes:
        return super().feed(self._reframer.feed(data))

    def close(self) -> bytes:
        self._reframer.close()
        return super().close()


_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


class ResponsesPump:
    """Native Responses API stream (OpenAI, Azure): bytes go through untouched; the terminal event's
    `response` object gives usage and the logged answer; an `error` event is raised as an upstream failure."""

    __slots__ = ("_sse", "final", "has_output")

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self.final: dict[str, Any] | None = None
        self.has_output = False  # past response.created / in_progress: the answer has begun

    def feed(self, data: bytes) -> bytes:
        self._scan(self._sse.feed(data))
        return data

    def close(self) -> bytes:
        self._scan(self._sse.close())
        if self.final is None:
            raise UpstreamError(502, "server", "upstream Responses stream ended before response.completed")
        return b""

    def _scan(self, events: list[Any]) -> None:
        for ev in events:
            try:
                obj = orjson.loads(ev.data)
            except orjson.JSONDecodeError:
                raise UpstreamError(502, "server", "upstream sent a stream event that is not JSON") from None
            kind = obj.get("type") if isinstance(obj, dict) else None
            if kind not in ("response.created", "response.in_progress", "error"):
                self.has_output = True
            if kind in _TERMINAL:
                self.final = obj.get("response") or {}
            elif kind == "error":
                raise UpstreamError(
                    502, "server", f"upstream reported an error mid-stream: {obj.get('message')}"
                )

    @property
    def finished(self) -> bool:
        return self.final is not None

    @property
    def usage(self) -> Any:
        return (self.final or {}).get("usage")

    @property
    def model(self) -> Any:
        return (self.final or {}).get("model")

    def result(self) -> Any:
        return self.final
