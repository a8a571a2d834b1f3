"""Helicone's prompt REST paths (`/v1/prompt-2025/...`), authenticated with a gateway key (the caller's
organisation), over the same store and validation as the admin API:

- `POST /v1/prompt-2025` {name, tags?, promptBody} → {id, versionId} (version 1, deployed to production)
- `POST /v1/prompt-2025/update` {promptId, promptBody, environment?, ...} → {id} (the new version's id)
- `POST /v1/prompt-2025/update/environment` {promptId, promptVersionId, environment} → null
- `POST /v1/prompt-2025/query/environment-version` {promptId, environment} → the version

A version answers in Helicone's fields (`major_version` is our version number, `minor_version` 0) with the body
inline as `prompt_body` where Helicone gives an `s3_url`. Tags and commit messages are accepted and not kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..admin import prompts as ap
from ..admin.base import parse
from ..errors import GatewayError, bad_request
from ..pipeline.headers import header_map
from .asgi import read_body

MAX_BODY_BYTES = 1 << 20


def _iso(ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _str(body: dict[str, Any], name: str) -> str:
    v = body.get(name)
    if not isinstance(v, str) or not v:
        raise bad_request(f"'{name}' must be a non-empty string.", param=name)
    return v


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    return None if body.get(name) is None else _str(body, name)


def version_json(v: Any, environment: str | None) -> dict[str, Any]:
    return {
        "id": v.id,
        "model": v.body.get("model"),
        "prompt_id": v.prompt_id,
        "major_version": v.number,
        "minor_version": 0,
        "commit_message": None,
        "environment": environment,
        "created_at": _iso(v.created_at),
        "s3_url": None,
        "prompt_body": v.body,
    }


async def _create(deps: Any, org: Any, body: dict[str, Any]) -> Any:
    fields = {"body": body.get("promptBody"), **({"name": body["name"]} if body.get("name") else {})}
    if not isinstance(fields["body"], dict):
        raise bad_request("'promptBody' must be a chat completion body.", param="promptBody")
    out = await ap.create_prompt(deps.prompts.store, org, parse(ap.PromptCreate, fields))
    deps.prompts.invalidate()
    return {"id": out["id"], "versionId": out["version_id"]}


async def _update(deps: Any, org: Any, body: dict[str, Any]) -> Any:
    pid = _str(body, "promptId")
    if not isinstance(body.get("promptBody"), dict):
        raise bad_request("'promptBody' must be a chat completion body.", param="promptBody")
    out = await ap.add_version(
        deps.prompts.store, org, pid, parse(ap.VersionCreate, {"body": body["promptBody"]})
    )
    env = _optional_str(body, "environment")
    if env:
        await ap.deploy(
            deps.prompts.store, org, pid, env, parse(ap.Deploy, {"version_id": out["version_id"]})
        )
        deps.prompts.invalidate()
    return {"id": out["version_id"]}


async def _set_environment(deps: Any, org: Any, body: dict[str, Any]) -> Any:
    pid, vid, env = _str(body, "promptId"), _str(body, "promptVersionId"), _str(body, "environment")
    await ap.deploy(deps.prompts.store, org, pid, env, parse(ap.Deploy, {"version_id": vid}))
    deps.prompts.invalidate()
    return None


async def _environment_version(deps: Any, org: Any, body: dict[str, Any]) -> Any:
    pid, env = _str(body, "promptId"), _str(body, "environment")
    p = await ap.get_prompt(deps.prompts.store, org, pid)
    vid = p.environments.get(env)
    if vid is None:
        raise GatewayError(404, f"Prompt {pid!r} has no version in environment {env!r}.", code="not_found")
    return version_json(next(v for v in p.versions if v.id == vid), env)


def _endpoint(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        deps = request.app.state.deps
        try:
            principal = await deps.auth.authenticate(header_map(request.scope["headers"]))
            try:
                body = orjson.loads(await read_body(request.receive, MAX_BODY_BYTES) or b"{}")
            except orjson.JSONDecodeError:
                raise bad_request("The request body is not valid JSON.", code="invalid_json") from None
            if not isinstance(body, dict):
                raise bad_request("The request body must be a JSON object.", code="invalid_json")
            out = await handler(deps, principal.org, body)
        except GatewayError as e:
            return Response(
                e.openai_body(), status_code=e.status, media_type="application/json", headers=e.headers
            )
        return Response(orjson.dumps(out), media_type="application/json")

    endpoint.__name__ = handler.__name__
    return endpoint


def prompt_rest_routes() -> list[Route]:
    return [
        Route("/v1/prompt-2025", _endpoint(_create), methods=["POST"]),
        Route("/v1/prompt-2025/update", _endpoint(_update), methods=["POST"]),
        Route("/v1/prompt-2025/update/environment", _endpoint(_set_environment), methods=["POST"]),
        Route("/v1/prompt-2025/query/environment-version", _endpoint(_environment_version), methods=["POST"]),
    ]
