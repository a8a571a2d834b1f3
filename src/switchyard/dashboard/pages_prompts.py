"""Managed prompts: the organisation's prompts with their environments, and one prompt's versions (bodies,
where each environment points, links to the requests each version served)."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
from starlette.responses import Response

from ..errors import GatewayError
from .guard import Ctx


def requests_url(prop: str, value: str) -> str:
    """The requests page filtered by one prompt property over the last 30 days."""
    return "/dashboard/requests?" + urlencode({"range": "30d", "property": f"{prop}={value}"})


async def prompts_page(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    prompts = await ctx.deps.prompts.store.list(viewer.org.id)
    return ctx.render("prompts.html", active="prompts", prompts=prompts, requests_url=requests_url)


async def prompt_page(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    p = await ctx.deps.prompts.store.get(viewer.org.id, ctx.request.path_params["prompt_id"][:64])
    if p is None:
        raise GatewayError(404, "No prompt with that id in this organisation.", code="prompt_not_found")
    envs: dict[str, list[str]] = {}
    for env, vid in sorted(p.environments.items()):
        envs.setdefault(vid, []).append(env)
    versions = [
        (v, envs.get(v.id, []), orjson.dumps(v.body, option=orjson.OPT_INDENT_2).decode())
        for v in reversed(p.versions)
    ]
    return ctx.render("prompt.html", active="prompts", p=p, versions=versions, requests_url=requests_url)
