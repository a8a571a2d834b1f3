"""Managed prompts: the organisation's prompts with their environments, and one prompt's versions (bodies,
where each environment points, links to the requests each version served) with a playground that runs a version
or an environment with inputs through the gateway (playground.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.responses import Response

from ..errors import GatewayError
from ..stores.sql_prompts import PRODUCTION, Prompt, PromptVersion
from . import playground
from .guard import Ctx

MAX_MESSAGE = 100_000  # characters of the optional extra user message


def requests_url(prop: str, value: str) -> str:
    """The requests page filtered by one prompt property over the last 30 days."""
    return "/dashboard/requests?" + urlencode({"range": "30d", "property": f"{prop}={value}"})


async def prompts_page(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    prompts = await ctx.deps.prompts.store.list(viewer.org.id)
    return ctx.render("prompts.html", active="prompts", prompts=prompts, requests_url=requests_url)


async def _prompt(ctx: Ctx) -> Prompt:
    viewer = ctx.viewer
    assert viewer is not None
    p = await ctx.deps.prompts.store.get(viewer.org.id, ctx.request.path_params["prompt_id"][:64])
    if p is None:
        raise GatewayError(404, "No prompt with that id in this organisation.", code="prompt_not_found")
    return p


def targets(p: Prompt) -> list[tuple[str, str]]:
    """(value, label) of what the playground can run: each environment, then each version, newest first."""
    number = {v.id: v.number for v in p.versions}
    envs = [(f"env:{e}", f"{e} (v{number.get(vid, '?')})") for e, vid in sorted(p.environments.items())]
    return envs + [(f"version:{v.id}", f"v{v.number}") for v in reversed(p.versions)]


def resolve(p: Prompt, target: str | None) -> tuple[str, PromptVersion | None, dict[str, str]]:
    """The chosen target (default: production, else the newest version), its version, and the body fields that
    select it (`environment` or `version_id`)."""
    by_id = {v.id: v for v in p.versions}
    kind, _, name = (target or "").partition(":")
    if kind == "env" and name in p.environments:
        return target or "", by_id.get(p.environments[name]), {"environment": name}
    if kind == "version" and name in by_id:
        return target or "", by_id[name], {"version_id": name}
    if PRODUCTION in p.environments:
        return resolve(p, f"env:{PRODUCTION}")
    newest = p.versions[-1] if p.versions else None
    return (f"version:{newest.id}" if newest else ""), newest, ({"version_id": newest.id} if newest else {})


async def prompt_page(
    ctx: Ctx, *, outcome: playground.Outcome | None = None, values: dict[str, str] | None = None
) -> Response:
    p = await _prompt(ctx)
    envs: dict[str, list[str]] = {}
    for env, vid in sorted(p.environments.items()):
        envs.setdefault(vid, []).append(env)
    versions = [
        (v, envs.get(v.id, []), orjson.dumps(v.body, option=orjson.OPT_INDENT_2).decode())
        for v in reversed(p.versions)
    ]
    chosen = (values or {}).get("target") or ctx.request.query_params.get("target")
    target, version, _ = resolve(p, chosen)
    return ctx.render(
        "prompt.html",
        active="prompts",
        p=p,
        versions=versions,
        requests_url=requests_url,
        targets=targets(p),
        target=target,
        variables=playground.variables(version.body) if version else [],
        values=values or {},
        outcome=outcome,
    )


async def run_prompt(ctx: Ctx) -> Response:
    """POST /dashboard/prompts/{id}/run: the chosen target with the form's inputs, through the chat route."""
    viewer = ctx.viewer
    assert viewer is not None
    p = await _prompt(ctx)
    target, version, select = resolve(p, ctx.form.get("target"))
    if version is None:
        raise GatewayError(404, "This prompt has no version to run.", code="prompt_not_found")
    inputs: dict[str, Any] = {}
    for var in playground.variables(version.body):
        raw = ctx.form.get(f"input.{var.name}")
        if raw is not None:
            inputs[var.name] = playground.input_value(var, raw)
    body: dict[str, Any] = {"prompt_id": p.id, **select, "inputs": inputs}
    message = ctx.form.get("message", "").strip()[:MAX_MESSAGE]
    if message:
        body["messages"] = [{"role": "user", "content": message}]
    outcome = await playground.run(ctx.deps, viewer, body)
    values = {k: v for k, v in ctx.form.items() if k != "csrf"} | {"target": target}
    return await prompt_page(ctx, outcome=outcome, values=values)
