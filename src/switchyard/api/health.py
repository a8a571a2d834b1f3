"""Liveness and readiness."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..stores.base import StoreUnavailable


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    deps = request.app.state.deps
    try:
        await deps.store.ping()
    except StoreUnavailable:
        return JSONResponse(
            {"status": "unavailable", "store": "unreachable", "log_backlog": deps.sink.backlog},
            status_code=503,
        )
    return JSONResponse({"status": "ready", "store": "ok", "log_backlog": deps.sink.backlog})
