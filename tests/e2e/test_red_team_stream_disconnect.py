"""Red team: a caller that stops reading a stream and then leaves must stop the upstream.

Before the fix, `asyncio.wait_for` (Python 3.11) in the HTTP client swallowed the cancellation sent when the
caller disconnected whenever the next upstream chunk was already there, as it always is with a fast upstream:
the gateway then read the upstream to its end at full speed with nobody listening (every token billed, and up
to `upstream.max_response_bytes` (256 MiB) per stream held in memory for the log: 3 such callers took one
process from 105 to 527 MiB). Now the upstream connection is closed at once and memory stays flat."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.gateway import GatewayProcess, default_config, free_port

CHUNK = (
    "data: "
    + json.dumps(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": "x" * 4000}, "finish_reason": None}],
        }
    )
    + "\n\n"
).encode() * 16
LIMIT = 1024 * 1024 * 1024


class FloodUpstream:
    """An OpenAI-shaped upstream that streams chunks as fast as the gateway reads them (up to 1 GiB)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sent: list[int] = []
        self.ended: list[float] = []
        threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True).start()

    async def _serve(self) -> None:
        srv = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        async with srv:
            await srv.serve_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(v)
                for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n"))
                if k.lower() == b"content-length"
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        i = len(self.sent)
        self.sent.append(0)
        try:
            while self.sent[i] < LIMIT:
                writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
                await writer.drain()
                self.sent[i] += len(CHUNK)
        except OSError:
            pass
        self.ended.append(time.monotonic())


@pytest.fixture(scope="module")
def flood() -> FloodUpstream:
    up = FloodUpstream()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", up.port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return up


@pytest.fixture(scope="module")
def gw(upstream, flood: FloodUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    cfg = default_config(upstream.url, free_port())
    cfg["providers"]["openai"]["base_url"] = f"http://127.0.0.1:{flood.port}/v1"
    g = GatewayProcess(tmp_path_factory.mktemp("rt-stream"), cfg)
    g.prepare()
    g.start()
    yield g
    g.stop()


def rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


def test_a_caller_that_stalls_then_leaves_stops_the_upstream(
    gw: GatewayProcess, flood: FloodUpstream
) -> None:
    assert gw.proc is not None
    before = rss_mib(gw.proc.pid)
    body = json.dumps(
        {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    )
    callers = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", gw.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {gw.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
        )
        callers.append(s)
    time.sleep(2)  # the callers read nothing: backpressure holds the upstreams
    stalled = sum(flood.sent[-3:])
    assert stalled < 128 * 1024 * 1024, stalled
    left = time.monotonic()
    for s in callers:
        s.close()
    deadline = left + 10
    while len(flood.ended) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(flood.ended) >= 3, (
        f"upstreams still streaming {time.monotonic() - left:.1f}s after the callers left"
    )
    after_leaving = sum(flood.sent[-3:]) - stalled
    assert after_leaving < 32 * 1024 * 1024, f"{after_leaving >> 20} MiB read after the callers left"
    assert max(flood.ended[-3:]) - left < 2.0
    assert rss_mib(gw.proc.pid) - before < 100
