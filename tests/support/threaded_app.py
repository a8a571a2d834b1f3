"""An aiohttp application served on its own event loop in a daemon thread: the loopback upstreams of the tests
(`mock_upstream.MockUpstream`, `fault_upstream.FaultUpstream`) share this start/stop, and the loopback stand-ins
(`webhook_receiver`, `stripe_standin`) share `LoopbackServer`'s."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Self

from aiohttp import web


class ThreadedApp:
    """Serves every POST with `handler` on `host:port` (0: a free port, known after `start()`)."""

    def __init__(
        self,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        *,
        name: str,
        max_body: int,
        handler_cancellation: bool = False,
    ) -> None:
        self._handler, self._name, self._max_body = handler, name, max_body
        self._cancellation = handler_cancellation
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None

    def start(self, host: str, port: int) -> int:
        """Start serving; returns the bound port."""
        ready = threading.Event()
        bound: list[int] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application(client_max_size=self._max_body)
            app.router.add_post("/{tail:.*}", self._handler)
            self._runner = web.AppRunner(app, access_log=None, handler_cancellation=self._cancellation)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, host, port)
            loop.run_until_complete(site.start())
            bound.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name=self._name, daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError(f"{self._name} did not start")
        return bound[0]

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)


class LoopbackServer:
    """start/stop/url of a stand-in served on 127.0.0.1 by its `ThreadedApp` (`_app`, set by the subclass)."""

    _app: ThreadedApp
    port: int = 0

    def start(self, port: int = 0) -> Self:
        """Serve on `port` (0: a free one, then in `port`)."""
        self.port = self._app.start("127.0.0.1", port)
        return self

    def stop(self) -> None:
        self._app.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
