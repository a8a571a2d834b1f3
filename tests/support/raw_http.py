"""A raw HTTP/1.1 server on loopback whose handler sees each request exactly as sent (the request line is not
normalised or decoded) and writes whatever bytes it likes: for the upstream client's tests (framing,
keep-alive, caps, proxies) and as a recording upstream for end-to-end tests (`InThread`).

A handler gets the request and the writer and returns True to keep the connection open for the next request.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    conn: int  # which connection (1, 2, ...) carried it


Handler = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[bool]]


def response(
    status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None, *, chunked: bool = False
) -> bytes:
    head = [f"HTTP/1.1 {status} X"]
    for k, v in (headers or {}).items():
        head.append(f"{k}: {v}")
    if chunked:
        head.append("transfer-encoding: chunked")
        payload = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        head.append(f"content-length: {len(body)}")
        payload = body
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return method, target, headers, body


class RawServer:
    def __init__(
        self, handler: Handler, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = 0
        self._ssl = ssl_context
        self.requests: list[RawRequest] = []
        self.connections = 0
        self.open_now = 0
        self.max_open = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self._ssl else 'http'}://{host}:{self.port}"

    async def start(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = self.connections
        self._writers.add(writer)
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        try:
            while (req := await read_request(reader)) is not None:
                request = RawRequest(*req, conn=n)
                self.requests.append(request)
                if not await self.handler(request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open_now -= 1
            self._writers.discard(writer)
            writer.close()


class InThread:
    """Runs a server with async `start()` / `stop()` (RawServer, ForwardProxy) on its own event loop in a thread,
    for tests that drive a gateway process."""

    def __init__(self, server) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="raw-server", daemon=True)

    def start(self):
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        return self.server

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
