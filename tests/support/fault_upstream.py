"""A loopback upstream that injects faults, for end-to-end tests of fallback, retries, timeouts and stream commits.

It speaks the OpenAI chat completions API (any path ending in `/chat/completions`) and the Anthropic messages
API (paths ending in `/messages`). The fault is chosen by the model name the gateway sends upstream: a
`model/provider` spec whose model the registry does not know is passed through verbatim, so the test picks
the fault in the request itself:

    fault-<FAULT>[.<tag>]       always fail with FAULT
    fail<N>-<FAULT>.<tag>       the first N requests carrying this tag fail with FAULT, later ones succeed
    anything else               a healthy answer (the recorded OpenAI / Anthropic exchange)

A fault can also sit in the base URL (`<url>/<provider>/fault/<FAULT>/v1`, always failing), for built-in
providers whose registry models are sent upstream under their real names.

FAULT is one of: an HTTP status (`500`, `502`, `503`, `429`, `400`, `401`, `403`, `404`, `408`, `409`),
`400ctx` (a context-length 400), `429ra<S>` (429 with `Retry-After: S`; plain `429` says 1 s), `503noretry`
(503 with `x-should-retry: false`), `hang` (no answer for HANG_SECONDS, then a reset), `slow` / `slow<ms>`
(a healthy answer after 2 s / ms), `reset` (connection reset before any header), `reset-first` (after the first
SSE event, before any content; non-stream: halfway through the body), `reset-content` (after some content),
`garbage` (200 whose body is not JSON), `error-event` (an `error` event after the first event, before any
content) and `error-content` (an `error` event after some content).

The first path segment names the configured provider that sent the request (base_url `<url>/<provider>/v1`),
so tests can count attempts per provider. Every request is recorded in `received`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from support.threaded_app import ThreadedApp

from .wire import chat_stream_text, exchange, sse_events, stream

# Longer than any per-request timeout the tests set, short enough not to stall a gateway that lacks one.
HANG_SECONDS = 4.0
SLOW_SECONDS = 2.0

OPENAI_STREAM = "openai/chat_completion_stream_usage.sse"
OPENAI_COMPLETION = "openai/chat_completion.json"
ANTHROPIC_STREAM = "anthropic/messages_stream_text.sse"
ANTHROPIC_MESSAGE = "anthropic/messages.json"
CONTENT_EVENTS = 3  # content-carrying OpenAI events sent before a `*-content` fault

_SPEC = re.compile(r"^(?:fault|fail(?P<times>\d+))-(?P<fault>[a-z0-9-]+?)(?:\.(?P<tag>[A-Za-z0-9_-]+))?$")
_RESET = web.RequestKey("fault_reset", bool)  # set when the fault itself cut the connection
_PATH_FAULT = re.compile(r"/fault/([a-z0-9-]+)/")
# status → (OpenAI error type, Anthropic error type)
_ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request_error"),
    401: ("invalid_request_error", "authentication_error"),
    403: ("permission_error", "permission_error"),
    404: ("invalid_request_error", "not_found_error"),
    408: ("timeout", "timeout_error"),
    409: ("conflict", "conflict_error"),
    429: ("rate_limit_error", "rate_limit_error"),
    503: ("server_error", "overloaded_error"),
}


def healthy_text() -> str:
    """The text of the healthy OpenAI stream (healthy_completion_text: of the non-stream answer)."""
    return chat_stream_text(OPENAI_STREAM)


def healthy_completion_text() -> str:
    return exchange(OPENAI_COMPLETION)["response"]["body"]["choices"][0]["message"]["content"]


def anthropic_text() -> str:
    """The text of the healthy Anthropic stream; `error-content` breaks off after all of it (one delta)."""
    events = sse_events(stream(ANTHROPIC_STREAM))
    return "".join(ev["delta"].get("text") or "" for ev in events if ev.get("type") == "content_block_delta")


def content_prefix() -> str:
    """What a caller has seen when a `reset-content` / `error-content` stream breaks off."""
    events = [ev for ev in sse_events(stream(OPENAI_STREAM)) if ev.get("choices")]
    return "".join(ev["choices"][0]["delta"].get("content") or "" for ev in events[: 1 + CONTENT_EVENTS])


def fault_message(fault: str) -> str:
    """The message an injected status error carries, so tests can check the caller sees it."""
    return f"fault upstream: injected {fault}"


@dataclass
class Received:
    provider: str  # first path segment: the configured provider that sent it
    path: str
    model: str
    fault: str  # the fault served ("" for a healthy answer)
    stream: bool
    body: Any
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived
    disconnected: bool = False  # the gateway hung up before the answer was complete (e.g. a hedge's loser)


@dataclass
class FaultUpstream:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    _failures: dict[str, int] = field(default_factory=dict)
    _server: ThreadedApp | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, provider: str, fault: str | None = None) -> str:
        return f"{self.url}/{provider}/fault/{fault}/v1" if fault else f"{self.url}/{provider}/v1"

    def provider(
        self, name: str, fmt: str | None = "openai", *, fault: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """A gateway `providers.<name>` entry pointing here (fmt None: a built-in provider's own format)."""
        entry = {"base_url": self.base_url(name, fault), "api_key": f"sk-fault-{name}-0000", **extra}
        return entry if fmt is None else {"format": fmt, **entry}

    def requests(
        self, *, provider: str | None = None, model: str | None = None, since: int = 0
    ) -> list[Received]:
        return [
            r
            for r in self.received[since:]
            if (provider is None or r.provider == provider) and (model is None or r.model == model)
        ]

    def mark(self) -> int:
        """An index into `received`: pass it as `since` to see only the requests that came after."""
        return len(self.received)

    def start(self) -> FaultUpstream:
        self._server = ThreadedApp(
            self._handle, name="fault-upstream", max_body=16 * 1024 * 1024, handler_cancellation=True
        )
        self.port = self._server.start(self.host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    # -- dispatch --------------------------------------------------------------------------------
    def _choose(self, model: str) -> str:
        m = _SPEC.match(model)
        if m is None:
            return ""
        if m["times"] is None:
            return m["fault"]
        key = f"{m['tag']}:{model}"
        served = self._failures.get(key, 0)
        if served >= int(m["times"]):
            return ""
        self._failures[key] = served + 1
        return m["fault"]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw
        model = body.get("model") if isinstance(body, dict) and isinstance(body.get("model"), str) else ""
        is_stream = isinstance(body, dict) and body.get("stream") is True
        in_path = _PATH_FAULT.search(request.path)
        fault = in_path.group(1) if in_path else self._choose(model)
        rec = Received(
            provider=request.path.strip("/").split("/", 1)[0],
            path=request.path,
            model=model,
            fault=fault,
            stream=is_stream,
            body=body,
            headers={k.lower(): v for k, v in request.headers.items()},
            at=time.monotonic(),
        )
        self.received.append(rec)
        dialect: _Dialect = _ANTHROPIC if request.path.endswith("/messages") else _OPENAI
        try:
            return await _serve(request, dialect, fault, is_stream)
        except asyncio.CancelledError:
            rec.disconnected = not request.get(_RESET, False)  # aiohttp cancels the handler on a hang-up
            raise


# -- dialects: the healthy answer and error shapes of each wire format ---------------------------
@dataclass(frozen=True)
class _Dialect:
    name: str
    completion: str
    stream: str

    def error_body(self, status: int, fault: str) -> dict[str, Any]:
        if self.name == "anthropic":
            return {
                "type": "error",
                "error": {
                    "type": _ERROR_TYPES.get(status, ("", "api_error"))[1],
                    "message": fault_message(fault),
                },
            }
        code = "context_length_exceeded" if fault == "400ctx" else None
        return {
            "error": {
                "message": fault_message(fault),
                "type": _ERROR_TYPES.get(status, ("server_error", ""))[0],
                "param": None,
                "code": code,
            }
        }

    def error_event(self) -> bytes:
        if self.name == "anthropic":
            payload = {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "fault upstream: overloaded mid-stream"},
            }
            return b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"
        payload = {
            "error": {
                "message": "fault upstream: overloaded mid-stream",
                "type": "server_error",
                "code": None,
            }
        }
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    def events(self) -> list[bytes]:
        """The recorded healthy stream, one SSE event (with its blank line) per item."""
        text = stream(self.stream).replace(b"\r\n", b"\n")
        return [block + b"\n\n" for block in text.split(b"\n\n") if block.strip()]

    def split_at_content(self) -> tuple[int, int]:
        """Indices into `events()`: the end of the pre-content events, and the end of CONTENT_EVENTS content."""
        events = self.events()
        first = next(i for i, ev in enumerate(events) if _has_content(ev))
        return first, min(len(events) - 1, first + CONTENT_EVENTS)


def _has_content(event: bytes) -> bool:
    for line in event.decode().splitlines():
        if not line.startswith("data:") or line[5:].strip() == "[DONE]":
            continue
        data = orjson.loads(line[5:].strip())
        if data.get("type") == "content_block_delta":  # Anthropic
            return True
        for ch in data.get("choices") or ():
            if (ch.get("delta") or {}).get("content"):
                return True
    return False


_OPENAI = _Dialect("openai", OPENAI_COMPLETION, OPENAI_STREAM)
_ANTHROPIC = _Dialect("anthropic", ANTHROPIC_MESSAGE, ANTHROPIC_STREAM)


# -- faults --------------------------------------------------------------------------------------
async def _serve(request: web.Request, d: _Dialect, fault: str, is_stream: bool) -> web.StreamResponse:
    if fault.startswith("slow"):
        await asyncio.sleep(int(fault[4:]) / 1000 if fault[4:] else SLOW_SECONDS)
        fault = ""
    if not fault:
        return await _healthy(request, d, is_stream)
    status = _status_of(fault)
    if status is not None:
        headers = {}
        if status == 429:
            headers["retry-after"] = fault[5:] if fault.startswith("429ra") else "1"
        if fault == "503noretry":
            headers["x-should-retry"] = "false"
        return web.json_response(d.error_body(status, fault), status=status, headers=headers)
    if fault == "hang":
        await asyncio.sleep(HANG_SECONDS)
        return _reset(request)
    if fault == "reset":
        return _reset(request)
    if fault == "garbage":
        if is_stream:
            return await _sse(request, [b'data: {"id": "chatcmpl-garbage", "choices": [{"del\n\n'])
        return web.Response(
            status=200, body=b'{"id": "chatcmpl-garbage", "choices": [{"mess', content_type="application/json"
        )
    if fault in ("reset-first", "reset-content", "error-event", "error-content"):
        if not is_stream:  # a non-stream answer cut off halfway through its body
            return await _partial_body(request, d)
        events = d.events()
        first, after_content = d.split_at_content()
        head = events[:first] if fault in ("reset-first", "error-event") else events[:after_content]
        if fault.startswith("error"):
            return await _sse(request, [*head, d.error_event()])
        return await _sse(request, head, reset=True)
    raise AssertionError(f"fault upstream: unknown fault {fault!r}")


def _status_of(fault: str) -> int | None:
    m = re.match(r"^(\d{3})(?:ctx|noretry|ra\d+)?$", fault)
    return int(m.group(1)) if m else None


async def _healthy(request: web.Request, d: _Dialect, is_stream: bool) -> web.StreamResponse:
    if is_stream:
        return await _sse(request, d.events())
    resp = exchange(d.completion)["response"]
    return web.Response(status=200, body=orjson.dumps(resp["body"]), content_type="application/json")


async def _sse(request: web.Request, events: list[bytes], *, reset: bool = False) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={"content-type": "text/event-stream; charset=utf-8"})
    await resp.prepare(request)
    for ev in events:
        await resp.write(ev)
        await asyncio.sleep(0.002)  # separate writes, so the gateway sees events arrive one by one
    if reset:
        await asyncio.sleep(0.05)  # let the gateway forward what it got before the connection dies
        _reset(request)
        return resp
    await resp.write_eof()
    return resp


async def _partial_body(request: web.Request, d: _Dialect) -> web.StreamResponse:
    body = orjson.dumps(exchange(d.completion)["response"]["body"])
    resp = web.StreamResponse(status=200, headers={"content-type": "application/json"})
    resp.content_length = len(body)
    await resp.prepare(request)
    await resp.write(body[: len(body) // 2])
    await asyncio.sleep(0.05)
    _reset(request)
    return resp


def _reset(request: web.Request) -> web.StreamResponse:
    """Abort the connection with a TCP RST (SO_LINGER 0), as a crashed or cut-off upstream would."""
    request[_RESET] = True
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise asyncio.CancelledError  # nothing more may be written; aiohttp drops the handler quietly


class Blackhole:
    """A listening socket whose accept queue is full, so new connections hang in SYN: a connect timeout."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(0)
        self.port = self.server.getsockname()[1]
        self._fillers: list[socket.socket] = []
        for _ in range(4):  # fill the accept queue (its size is backlog + 1); later SYNs are dropped
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", self.port))
            self._fillers.append(s)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        for s in self._fillers:
            s.close()
        self.server.close()
