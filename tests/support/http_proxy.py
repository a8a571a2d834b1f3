"""A forward HTTP proxy on loopback: CONNECT tunnels (https) and absolute-form requests (http), as an egress
proxy does. Every host name is sent to `origin` (a loopback server), so a test can use a name that does not
resolve: an answer proves the request went through the proxy. Records what it was asked."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class ForwardProxy:
    origin: tuple[str, int]  # where every tunnel and forwarded request goes
    authorization: str | None = None  # the Proxy-Authorization value to require (407 otherwise)
    host: str = "127.0.0.1"
    port: int = 0
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # method, target, headers
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._client, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
            }
            self.seen.append((method, target, headers))
            if self.authorization is not None and headers.get("proxy-authorization") != self.authorization:
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                return
            if method != "CONNECT" and not urlsplit(target).scheme:
                writer.write(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
                )  # origin form sent to a proxy
                await writer.drain()
                return
            up_reader, up_writer = await asyncio.open_connection(*self.origin)
            self._writers.add(up_writer)
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                up_writer.write(head)  # forwarded as received; the rest of the connection is piped
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


async def _pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            w.write_eof()
