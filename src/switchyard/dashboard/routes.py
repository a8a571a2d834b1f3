"""The dashboard's routes, mounted by `app.py` beside the API (the hot proxy dispatch never sees them)."""

from __future__ import annotations

from importlib.resources import files

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from . import pages_account as account
from . import pages_detail as detail
from . import pages_health as health
from . import pages_keys as keys
from . import pages_overview as overview
from . import pages_people as people
from . import pages_prompts as prompts
from . import pages_requests as requests
from . import pages_sessions as sessions
from .guard import Parts, page


def dashboard_routes() -> list[BaseRoute]:
    parts = Parts()

    def get(path: str, handler, **kw) -> Route:
        return Route(path, page(parts, handler, **kw), methods=["GET"])

    def post(path: str, handler, **kw) -> Route:
        return Route(path, page(parts, handler, **kw), methods=["POST"])

    static = StaticFiles(directory=str(files("switchyard.dashboard") / "static"))
    return [
        get("/", account.root, public=True),
        get("/dashboard/signin", account.signin_page, public=True),
        post("/dashboard/signin", account.signin_submit, public=True),
        post("/dashboard/signout", account.signout),
        post("/dashboard/org", account.switch_org),
        get("/dashboard", overview.overview),
        get("/dashboard/", overview.overview),
        get("/dashboard/requests", requests.requests_page),
        get("/dashboard/requests/export.{fmt}", requests.export),
        get("/dashboard/requests/{request_id}", detail.detail),
        post("/dashboard/requests/{request_id}/feedback", detail.feedback),
        post("/dashboard/requests/{request_id}/score", detail.score),
        get("/dashboard/sessions", sessions.sessions_page),
        get("/dashboard/sessions/{session_id:path}", sessions.session_page),
        get("/dashboard/users", people.users_page),
        get("/dashboard/properties", people.properties_page),
        get("/dashboard/keys", keys.keys_page),
        post("/dashboard/keys", keys.create_key),
        post("/dashboard/keys/{key_id}", keys.update_key),
        post("/dashboard/keys/{key_id}/revoke", keys.revoke_key),
        post("/dashboard/provider-keys", keys.add_provider_key),
        post("/dashboard/provider-keys/{key_id}/rotate", keys.rotate_provider_key),
        post("/dashboard/provider-keys/{key_id}/remove", keys.remove_provider_key),
        post("/dashboard/credits", keys.grant_credits),
        get("/dashboard/health", health.health_page),
        get("/dashboard/prompts", prompts.prompts_page),
        get("/dashboard/prompts/{prompt_id}", prompts.prompt_page),
        post("/dashboard/prompts/{prompt_id}/run", prompts.run_prompt),
        Mount("/dashboard/static", app=static, name="dashboard-static"),
    ]
