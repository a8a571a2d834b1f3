"""Admin API for managed prompts (`/admin/v1/orgs/{org}/prompts...`), and the operations the CLI shares.

`POST .../prompts` {"id"?, "name"?, "body"} → {"id", "version_id"} (version 1, deployed to production);
`POST .../prompts/{id}/versions` {"body"} → {"id", "version_id", "number"}; `GET .../prompts`;
`GET .../prompts/{id}` (versions with their bodies, environments); `PUT .../prompts/{id}/environments/{env}`
{"version_id"} deploys or rolls back. Running gateways pick a change up at once in this process, and within a
second elsewhere (`pipeline/prompts.py` polls the store's prompt revision).
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from pydantic import StringConstraints, field_validator
from starlette.requests import Request
from starlette.routing import Route

from ..errors import bad_request
from ..stores.sql_prompts import PromptStore
from . import admin_ops as ops
from .admin import PREFIX, Handler, Result, _body, _route
from .admin_models import _Body, not_found, parse

_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
PromptId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def check_body(v: dict[str, Any]) -> dict[str, Any]:
    """A saved version is a chat body: messages (an array of message objects), optional model and parameters."""
    msgs = v.get("messages")
    if not isinstance(msgs, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in msgs
    ):
        raise ValueError("must hold 'messages', an array of message objects with a 'role'")
    if "model" in v and not isinstance(v["model"], str):
        raise ValueError("'model' must be a string")
    for k in ("prompt_id", "environment", "version_id", "inputs", "stream"):
        if k in v:
            raise ValueError(f"must not hold {k!r}; that is given when the prompt is invoked")
    return v


class PromptCreate(_Body):
    id: PromptId | None = None
    name: Name | None = None
    body: dict[str, Any]

    @field_validator("body")
    @classmethod
    def _body(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_body(v)


class VersionCreate(_Body):
    body: dict[str, Any]

    @field_validator("body")
    @classmethod
    def _body(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_body(v)


class Deploy(_Body):
    version_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _ms() -> int:
    return int(time.time() * 1000)


def version_json(v: Any, with_body: bool = True) -> dict[str, Any]:
    out = {"id": v.id, "number": v.number, "created_at": v.created_at}
    if with_body:
        out["body"] = v.body
    return out


def prompt_json(p: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "name": p.name,
        "created_at": p.created_at,
        "environments": p.environments,
    }
    if p.versions:
        out["versions"] = [version_json(v) for v in p.versions]
    return out


def env_name(env: str) -> str:
    if not _ID.fullmatch(env):
        raise bad_request(
            "An environment name is 1-64 letters, digits, '-' or '_'.", code="invalid_environment"
        )
    return env


# -- operations (HTTP and CLI) -------------------------------------------------------------------------------


async def create_prompt(prompts: PromptStore, org: Any, body: PromptCreate) -> dict[str, Any]:
    with ops.store_errors():
        pid, v = await prompts.create(org.id, body.id, body.name, body.body, _ms())
    return {"id": pid, "version_id": v.id, "number": v.number}


async def add_version(prompts: PromptStore, org: Any, prompt_id: str, body: VersionCreate) -> dict[str, Any]:
    with ops.store_errors():
        v = await prompts.add_version(org.id, prompt_id, body.body, _ms())
    return {"id": prompt_id, "version_id": v.id, "number": v.number}


async def get_prompt(prompts: PromptStore, org: Any, prompt_id: str) -> Any:
    with ops.store_errors():
        p = await prompts.get(org.id, prompt_id)
    if p is None:
        raise not_found(f"No prompt {prompt_id!r} in organisation {org.name!r}.")
    return p


async def deploy(prompts: PromptStore, org: Any, prompt_id: str, env: str, body: Deploy) -> dict[str, Any]:
    with ops.store_errors():
        await prompts.deploy(org.id, prompt_id, env_name(env), body.version_id, _ms())
    return {"id": prompt_id, "environment": env, "version_id": body.version_id}


# -- HTTP ------------------------------------------------------------------------------------------------------


def _store(deps: Any) -> PromptStore:
    return deps.prompts.store


async def _create(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    out = await create_prompt(_store(deps), org, parse(PromptCreate, await _body(request)))
    deps.prompts.invalidate()
    return 201, out


async def _version(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    out = await add_version(
        _store(deps), org, request.path_params["prompt_id"], parse(VersionCreate, await _body(request))
    )
    return 201, out


async def _list(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    with ops.store_errors():
        return {"data": [prompt_json(p) for p in await _store(deps).list(org.id)]}


async def _get(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
    return prompt_json(await get_prompt(_store(deps), org, request.path_params["prompt_id"]))


async def _deploy(request: Request, deps: Any) -> Result:
    org = await ops.resolve_org(deps.store, request.path_params["org"])
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
    by_path: dict[str, dict[str, Handler]] = {}
    for method, path, handler in table:
        by_path.setdefault(PREFIX + path, {})[method] = handler
    return [_route(path, handlers) for path, handlers in by_path.items()]
