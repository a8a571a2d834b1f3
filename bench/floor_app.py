"""The `floor` bench target: the gateway's own server stack and upstream client with no gateway behind them.

uvicorn with the gateway's protocol and settings (`cli/serving.uvicorn_options`: the header and connection limits,
the whole-answer write) in front of a featureless ASGI app that forwards each request's body to the nginx mock
with the gateway's HTTP/1.1 client (`providers/http1.Pool`) and writes back what it answers: no authentication,
no parsing, no plan, no log, no metrics. Its CPU per request is what the layers below the pipeline cost; the
`switchyard` row's CPU less this one is what the gateway's own work costs (bench/README.md, "Where the time goes").

    /json/...  → http://127.0.0.1:18080/...   (a whole completion, written with one write)
    /sse/...   → http://127.0.0.1:18081/...   (the stream, passed through chunk by chunk)

Usage: PYTHONPATH=PROJECT/src:bench python bench/floor_app.py PORT
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from switchyard.api.asgi import WHOLE_RESPONSE
from switchyard.api.server_limits import ServerLimits
from switchyard.cli.serving import uvicorn_options
from switchyard.providers.http1 import Pool

UPSTREAMS = {"json": "http://127.0.0.1:18080", "sse": "http://127.0.0.1:18081"}
TIMEOUTS = {"connect_timeout": 5.0, "read_timeout": 30.0, "total_timeout": 60.0}


class FloorApp:
    limits = ServerLimits()  # what the gateway's protocol reads off the app (api/server_limits.limits_of)

    def __init__(self) -> None:
        self.pool: Pool | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        upstream, _, path = scope["path"].lstrip("/").partition("/")
        if upstream not in UPSTREAMS:  # bench/compare.sh's readiness probe, or a mistyped URL
            scope["extensions"][WHOLE_RESPONSE](404, [], b"not a floor route", b"text/plain")
            return
        assert self.pool is not None
        response = await self.pool.request(
            "POST",
            f"{UPSTREAMS[upstream]}/{path}",
            {"content-type": "application/json", "authorization": "Bearer sk-upstream"},
            body,
            **TIMEOUTS,
        )
        if upstream == "json":
            whole = scope["extensions"][WHOLE_RESPONSE]
            whole(response.status, [], await response.read(), b"application/json")
            return
        head = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": response.status, "headers": head})
        async for chunk in response.iter_chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = Pool()
                await send({"type": "lifespan.startup.complete"})
            else:
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


if __name__ == "__main__":
    port = int(sys.argv[1])
    options = {
        "host": "127.0.0.1",
        "port": port,
        "workers": 1,
        "access_log": False,
        "graceful_shutdown_seconds": 5,
    }
    uvicorn.run(FloorApp(), **uvicorn_options(options))
