"""`GET /metrics`: this worker's Prometheus metrics (see observe/metrics.py for the per-process semantics)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


async def metrics(request: Request) -> Response:
    # Rendered on the event loop on purpose: the counters are updated lock-free from this same thread.
    body, content_type = request.app.state.deps.metrics.render(request.headers.get("accept", ""))
    return Response(body, headers={"content-type": content_type})
