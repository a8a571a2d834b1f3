"""Every dashboard page goes through `page()`: session → viewer → CSRF check on POST → handler → headers.

A page never runs for a visitor who is not signed in (they are sent to the sign-in page), never runs a POST
without the session's CSRF token, and every answer carries a strict Content-Security-Policy (scripts and styles
only from this origin), no-store caching, no referrer and no framing.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import GatewayError, redact
from ..stores.base import StoreUnavailable
from .access import Viewer, resolve
from .render import environment
from .session import COOKIE, CSRF_FIELD, CSRF_HEADER, Session, SessionCodec, cookie_header

log = logging.getLogger("switchyard.dashboard")

MAX_FORM_BYTES = 256 * 1024
SIGN_IN = "/dashboard/signin"

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class Forbidden(Exception):
    pass


class Parts:
    """What the dashboard builds once per process: the template environment and the cookie codec."""

    def __init__(self) -> None:
        self.env = environment()
        self._codec: SessionCodec | None = None

    def codec(self, deps: Any) -> SessionCodec:
        if self._codec is None:
            self._codec = SessionCodec(deps.secrets)
        return self._codec


@dataclass
class Ctx:
    request: Request
    deps: Any
    parts: Parts
    session: Session
    viewer: Viewer | None
    form: dict[str, str] = field(default_factory=dict)
    form_lists: dict[str, list[str]] = field(default_factory=dict)
    set_session: Session | None = None  # a new session to set on the answer

    @property
    def codec(self) -> SessionCodec:
        return self.parts.codec(self.deps)

    @property
    def csrf(self) -> str:
        return self.codec.csrf_token(self.set_session or self.session)

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.parts.env.get_template(template).render(
            viewer=self.viewer,
            csrf=self.csrf,
            base_url=self.base_url,
            path=self.request.url.path,
            htmx=self.request.headers.get("hx-request") == "true",
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def redirect(self, url: str) -> Response:
        if self.request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"hx-redirect": url})
        return RedirectResponse(url, status_code=303)


Handler = Callable[[Ctx], Awaitable[Response]]


async def _read_form(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("", "application/x-www-form-urlencoded"):
        raise Forbidden("Forms are posted as application/x-www-form-urlencoded.")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            raise GatewayError(413, "The form is too large.", code="body_too_large")
    pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    lists: dict[str, list[str]] = {}
    for k, v in pairs:
        lists.setdefault(k, []).append(v)
    return {k: v[-1] for k, v in lists.items()}, lists


def page(parts: Parts, handler: Handler, *, public: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler. `public` pages (sign-in) run without a viewer but still check CSRF on POST."""

    async def endpoint(request: Request) -> Response:
        deps = request.app.state.deps
        codec = parts.codec(deps)
        session = codec.loads(request.cookies.get(COOKIE))
        fresh = session is None
        if session is None:
            session = codec.anonymous()
        ctx = Ctx(request, deps, parts, session, None)
        try:
            ctx.viewer = await resolve(deps, codec, session)
            if session.signed_in and ctx.viewer is None:  # revoked key, changed admin key, deleted org
                ctx.set_session = session = ctx.session = codec.anonymous()
                fresh = True
            if ctx.viewer is None and not public:
                response = ctx.redirect(SIGN_IN)
            else:
                if request.method == "POST":
                    ctx.form, ctx.form_lists = await _read_form(request)
                    token = ctx.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
                    if fresh or not codec.csrf_ok(session, token):
                        raise Forbidden("This form has expired or was sent from another site.")
                response = await handler(ctx)
        except Forbidden as e:
            response = ctx.render(
                "error.html", status=403, title="Refused", message=str(e) + " Reload the page and try again."
            )
        except GatewayError as e:
            response = ctx.render("error.html", status=e.status, title="Not available", message=e.message)
        except StoreUnavailable:
            response = ctx.render(
                "error.html",
                status=503,
                title="Store unavailable",
                message="The gateway's store is unavailable; try again shortly.",
            )
        except Exception as e:
            log.error(
                "dashboard %s %s failed:\n%s",
                request.method,
                request.url.path,
                redact("".join(traceback.format_exception(e))),
            )
            response = ctx.render(
                "error.html",
                status=500,
                title="Something went wrong",
                message="The page failed inside the gateway; its log has the details.",
            )
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        new = ctx.set_session or (session if fresh else None)
        if new is not None:
            secure = request.url.scheme == "https"
            response.headers.append("set-cookie", cookie_header(codec.dumps(new), secure=secure))
        return response

    endpoint.__name__ = getattr(handler, "__name__", "page")
    return endpoint
