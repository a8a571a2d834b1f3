"""`GET /metrics`: this worker's Prometheus metrics (see observe/metrics.py for the per-process semantics).

With `metrics.token` set, only `Authorization: Bearer <token>` is answered (compared in constant time; 401
otherwise, in OpenAI's error shape): Prometheus sends it with `authorization: {credentials: ...}` (or
`bearer_token`) in the scrape config. Unset, the endpoint is open. Labels never name an organisation or a
BYOK key either way (observe/metrics.py folds BYOK circuits per provider).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from ..errors import GatewayError


async def metrics(request: Request) -> Response:
    deps = request.app.state.deps
    token = deps.settings.metrics.token
    if token and not _authorized(token, request.headers.get("authorization", "")):
        e = GatewayError(
            401,
            "GET /metrics needs the metrics token: send 'Authorization: Bearer <metrics.token>'.",
            code="invalid_metrics_token",
            headers={"www-authenticate": "Bearer"},
        )
        return Response(e.openai_body(), status_code=401, media_type="application/json", headers=e.headers)
    # Rendered on the event loop on purpose: the counters are updated lock-free from this same thread.
    body, content_type = deps.metrics.render(request.headers.get("accept", ""))
    return Response(body, headers={"content-type": content_type})


def _authorized(token: str, authorization: str) -> bool:
    scheme, _, given = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
