"""Admin API for managed prompts (`/admin/v1/orgs/{org}/prompts...`); the operations are in `admin/prompts.py`.

`POST .../prompts` {"id"?, "name"?, "body"} → {"id", "version_id"} (version 1, deployed to production);
`POST .../prompts/{id}/versions` {"body"} → {"id", "version_id", "number"}; `GET .../prompts`;
`GET .../prompts/{id}` (versions with their bodies, environments); `PUT .../prompts/{id}/environments/{env}`
{"version_id"} deploys or rolls back. Running gateways pick a change up at once in this process, and within a
second elsewhere (`pipeline/prompts.py` polls the store's prompt revision).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..admin.base import parse, store_errors
from ..admin.orgs import resolve_org
from ..admin.prompts import (
    Deploy,
    PromptCreate,
    VersionCreate,
    add_version,
    create_prompt,
    deploy,
    get_prompt,
    prompt_json,
)
from ..stores.sql_prompts import PromptStore
from .admin import Handler, Result, _body, routes


def _store(deps: Any) -> PromptStore:
    return deps.prompts.store


async def _create(request: Request, deps: Any) -> Result:
    org = await resolve_org(deps.store, request.path_params["org"])
    out = await create_prompt(_store(deps), org, parse(PromptCreate, await _body(request)))
    deps.prompts.invalidate()
    return 201, out


async def _version(request: Request, deps: Any) -> Result:
    org = await resolve_org(deps.store, request.path_params["org"])
    out = await add_version(
        _store(deps), org, request.path_params["prompt_id"], parse(VersionCreate, await _body(request))
    )
    return 201, out


async def _list(request: Request, deps: Any) -> Result:
    org = await resolve_org(deps.store, request.path_params["org"])
    with store_errors():
        return {"data": [prompt_json(p) for p in await _store(deps).list(org.id)]}


async def _get(request: Request, deps: Any) -> Result:
    org = await resolve_org(deps.store, request.path_params["org"])
    return prompt_json(await get_prompt(_store(deps), org, request.path_params["prompt_id"]))


async def _deploy(request: Request, deps: Any) -> Result:
    org = await resolve_org(deps.store, request.path_params["org"])
    out = await deploy(
        _store(deps),
        org,
        request.path_params["prompt_id"],
        request.path_params["env"],
        parse(Deploy, await _body(request)),
    )
    deps.prompts.invalidate()
    return out


def admin_prompt_routes() -> list[Route]:
    table: list[tuple[str, str, Handler]] = [
        ("POST", "/orgs/{org}/prompts", _create),
        ("GET", "/orgs/{org}/prompts", _list),
        ("GET", "/orgs/{org}/prompts/{prompt_id}", _get),
        ("POST", "/orgs/{org}/prompts/{prompt_id}/versions", _version),
        ("PUT", "/orgs/{org}/prompts/{prompt_id}/environments/{env}", _deploy),
    ]
    return routes(table)
