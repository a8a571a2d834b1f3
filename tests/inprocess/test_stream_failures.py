"""Streams that break after they began, and callers that leave mid-stream, through the real app in process.

A stream commits at its first content (docs/routing.md): a failure after it ends the stream with an error event
in the caller's format and no fallback; a caller that goes away stops the upstream read at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from support.asgi_gateway import AsgiGateway
from support.fake_transport import Sent, recorded_provider
from support.upstream_answers import SSE, Reply
from support.wire import sse_events, stream

CHAT_SSE = stream("openai/chat_completion_stream_usage.sse")
CLAUDE_SSE = stream("anthropic/messages_stream_text.sse")


def head(data: bytes, events: int) -> bytes:
    return b"\n\n".join(data.replace(b"\r\n", b"\n").split(b"\n\n")[:events]) + b"\n\n"


def then(reply: Reply, host: str = "api.openai.com") -> Any:
    return lambda sent: reply if sent.host == host else recorded_provider(sent)


async def test_a_chat_stream_broken_after_content_ends_with_an_error_event_and_no_fallback(
    gw: AsgiGateway,
) -> None:
    gw.transport.handler = then(Reply(200, dict(SSE), chunks=[head(CHAT_SSE, 4)], fail="connection"))
    start = len(gw.transport.sent)
    body = {
        "model": "gpt-4o-mini/openai,llama3/my-vllm",
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    r = await gw.post("/v1/chat/completions", body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.content)
    text = "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices") or ())
    assert text, "the content before the failure reached the caller"
    assert "error" in events[-1] and events[-1]["error"]["message"], events[-1]
    assert [s.host for s in gw.transport.sent[start:]] == ["api.openai.com"]  # committed: no fallback
    row = await gw.row(r.headers["helicone-id"])
    assert row["error"] and row["stream"] is True


async def test_an_anthropic_stream_broken_after_content_ends_with_an_error_event(gw: AsgiGateway) -> None:
    gw.transport.handler = then(
        Reply(200, dict(SSE), chunks=[head(CLAUDE_SSE, 4)], fail="timeout"), host="api.anthropic.com"
    )
    body = {
        "model": "claude-sonnet-4/anthropic",
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    r = await gw.post("/v1/messages", body)
    assert r.status_code == 200
    blocks = [b for b in r.text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    assert blocks[-1].startswith("event: error"), blocks[-1]
    error = json.loads(blocks[-1].split("data:", 1)[1])
    assert error["type"] == "error" and error["error"]["message"]
    assert any("content_block_delta" in b for b in blocks[:-1])
    row = await gw.row(r.headers["helicone-id"])
    assert row["error"]


async def test_a_caller_that_leaves_mid_stream_stops_the_upstream_read(gw: AsgiGateway) -> None:
    """The upstream sends a few events, then would stay silent for a minute; the caller leaves after the first
    bytes. The gateway closes the upstream response at once instead of waiting for the rest."""
    gw.transport.handler = then(Reply(200, dict(SSE), chunks=[head(CHAT_SSE, 3), 60.0, CHAT_SSE]))
    body = json.dumps(
        {"model": "gpt-4o-mini/openai", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()
    left = asyncio.Event()
    received: list[dict[str, Any]] = []
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        received.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            left.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"gateway.test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {gw.key}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
    }
    started = time.monotonic()
    await asyncio.wait_for(gw.app(scope, receive, send), 10)
    assert time.monotonic() - started < 10
    sent: Sent = gw.transport.last("/chat/completions")
    assert sent.closed_early, "the upstream response was read on after the caller left"
    assert received[0]["type"] == "http.response.start" and received[0]["status"] == 200
    rid = dict(received[0]["headers"])[b"helicone-id"].decode()
    row = await gw.row(rid)
    assert (row["stream"], row["error"]) == (True, "client disconnected during the stream"), row
