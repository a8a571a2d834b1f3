"""Managed prompts: what a saved version may hold, and the operations the admin API, Helicone's prompt REST API
and the CLI share (create, add a version, read, deploy to an environment).
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from ..errors import bad_request
from ..stores.sql_prompts import PromptStore
from .base import Body, not_found, store_errors

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


ChatBody = Annotated[dict[str, Any], AfterValidator(check_body)]


class PromptCreate(Body):
    id: PromptId | None = None
    name: Name | None = None
    body: ChatBody


class VersionCreate(Body):
    body: ChatBody


class Deploy(Body):
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


async def create_prompt(prompts: PromptStore, org: Any, body: PromptCreate) -> dict[str, Any]:
    with store_errors():
        pid, v = await prompts.create(org.id, body.id, body.name, body.body, _ms())
    return {"id": pid, "version_id": v.id, "number": v.number}


async def add_version(prompts: PromptStore, org: Any, prompt_id: str, body: VersionCreate) -> dict[str, Any]:
    with store_errors():
        v = await prompts.add_version(org.id, prompt_id, body.body, _ms())
    return {"id": prompt_id, "version_id": v.id, "number": v.number}


async def get_prompt(prompts: PromptStore, org: Any, prompt_id: str) -> Any:
    with store_errors():
        p = await prompts.get(org.id, prompt_id)
    if p is None:
        raise not_found(f"No prompt {prompt_id!r} in organisation {org.name!r}.")
    return p


async def deploy(prompts: PromptStore, org: Any, prompt_id: str, env: str, body: Deploy) -> dict[str, Any]:
    with store_errors():
        await prompts.deploy(org.id, prompt_id, env_name(env), body.version_id, _ms())
    return {"id": prompt_id, "environment": env, "version_id": body.version_id}
