"""GET /v1/models: the registry's models in OpenAI list format."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response


def models_payload(registry: Any) -> bytes:
    data = [
        {"id": m.id, "object": "model", "created": m.created, "owned_by": m.author}
        for m in sorted(registry.models.values(), key=lambda m: m.id)
        if m.endpoints
    ]
    return orjson.dumps({"object": "list", "data": data})


async def list_models(request: Request) -> Response:
    deps = request.app.state.deps
    return Response(deps.models_payload, media_type="application/json")
