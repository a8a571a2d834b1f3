"""Sign in (a gateway key or the admin key), sign out, and the admin's organisation switcher."""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import RedirectResponse, Response

from .access import SignInError, sign_in
from .guard import Ctx


def safe_next(value: str | None) -> str:
    """Only a path of this dashboard (never another site, never `//host`)."""
    if value and value.startswith("/dashboard") and not value.startswith("//") and "\\" not in value:
        return value
    return "/dashboard"


async def root(ctx: Ctx) -> Response:
    return RedirectResponse("/dashboard", status_code=307)


async def signin_page(ctx: Ctx) -> Response:
    if ctx.viewer is not None:
        return ctx.redirect("/dashboard")
    return ctx.render("signin.html", error=None, admin_enabled=bool(ctx.deps.settings.admin.key))


async def signin_submit(ctx: Ctx) -> Response:
    try:
        ctx.set_session = await sign_in(ctx.deps, ctx.codec, ctx.form.get("key", ""))
    except SignInError as e:  # the typed value is never echoed back into the page
        return ctx.render(
            "signin.html", status=401, error=str(e), admin_enabled=bool(ctx.deps.settings.admin.key)
        )
    return ctx.redirect("/dashboard")


async def signout(ctx: Ctx) -> Response:
    ctx.set_session = ctx.codec.anonymous()
    return ctx.redirect("/dashboard/signin")


async def switch_org(ctx: Ctx) -> Response:
    viewer = ctx.viewer
    assert viewer is not None
    wanted = ctx.form.get("org", "")
    if viewer.admin and any(o.id == wanted for o in viewer.orgs):
        ctx.set_session = replace(ctx.session, org_id=wanted)
    return ctx.redirect(safe_next(ctx.form.get("next")))
