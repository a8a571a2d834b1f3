"""api/proxy.py + pipeline/reply.py: a whole answer is written before the request's accounting runs (`Reply.close`
→ `finish`), and the accounting runs exactly once whatever the writing did (written, the caller gone, cancelled)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from switchyard.api import proxy
from switchyard.api.asgi import WHOLE_RESPONSE
from switchyard.pipeline import reply as reply_module
from switchyard.pipeline.reply import Reply


def _route(
    monkeypatch: pytest.MonkeyPatch, events: list[str], body: bytes | None = b"{}"
) -> proxy.ProxyRoute:
    async def handle(deps, route, request):
        r = Reply(200, body, [])
        r.ending = ("deps", "exchange")
        return r

    monkeypatch.setattr(proxy, "handle", handle)
    monkeypatch.setattr(reply_module, "finish", lambda deps, x: events.append(f"finish {deps} {x}"))
    deps = SimpleNamespace(settings=SimpleNamespace(server=SimpleNamespace()))
    return proxy.ProxyRoute(deps, spec=None)


def _scope(whole) -> dict:
    return {"path": "/v1/chat/completions", "headers": [], "extensions": {WHOLE_RESPONSE: whole}}


async def _receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


async def test_the_answer_is_written_before_the_request_is_finished(monkeypatch):
    events: list[str] = []
    route = _route(monkeypatch, events)
    await route(_scope(lambda status, headers, body, ct: events.append(f"write {status}")), _receive, None)
    assert events == ["write 200", "finish deps exchange"]


async def test_a_caller_gone_before_the_write_still_finishes_its_request_once(monkeypatch):
    events: list[str] = []
    route = _route(monkeypatch, events)

    def gone(*_):
        events.append("write")
        raise ConnectionResetError("caller gone")

    await route(_scope(gone), _receive, None)
    assert events == ["write", "finish deps exchange"]


async def test_a_write_cancelled_by_the_server_still_finishes_the_request(monkeypatch):
    events: list[str] = []
    route = _route(monkeypatch, events)

    async def send(message):  # the plain ASGI path (another server): awaits, and the server cancels it
        events.append(message["type"])
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await route({"path": "/", "headers": [], "extensions": {}}, _receive, send)
    assert events == ["http.response.start", "finish deps exchange"]


async def test_nothing_to_write_still_finishes(monkeypatch):
    events: list[str] = []
    route = _route(monkeypatch, events, body=None)
    await route(_scope(lambda *_: events.append("write")), _receive, None)
    assert events == ["finish deps exchange"]


def test_close_finishes_once():
    calls: list[tuple] = []
    r = Reply(200, b"{}", [])
    r.ending = ("d", "x")
    original = reply_module.finish
    reply_module.finish = lambda *a: calls.append(a)
    try:
        r.close()
        r.close()
    finally:
        reply_module.finish = original
    assert calls == [("d", "x")]
