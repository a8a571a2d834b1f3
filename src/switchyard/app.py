"""The ASGI application: hot proxy routes dispatched directly, everything else through Starlette."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route

from .api import surfaces
from .api.asgi import GuardedReceive, Receive, Scope, Send, send_response
from .api.count_tokens import CountTokensRoute
from .api.health import healthz, readyz
from .api.metrics import metrics
from .api.models import get_model, list_models
from .api.proxy import ProxyRoute
from .api.server_limits import RETRY_AFTER_SECONDS, ServerLimits
from .config import Settings, load_settings
from .deps import Deps, running
from .errors import GatewayError

HotRoute = ProxyRoute | CountTokensRoute  # raw ASGI handlers of the proxy paths


def _proxy_routes(deps: Deps) -> dict[str, HotRoute]:
    table: tuple[tuple[str, HotRoute], ...] = (
        ("/chat/completions", ProxyRoute(deps, surfaces.CHAT, alternate=surfaces.chat_alternate)),
        ("/completions", ProxyRoute(deps, surfaces.COMPLETIONS)),
        ("/messages", ProxyRoute(deps, surfaces.MESSAGES)),
        ("/messages/count_tokens", CountTokensRoute(deps)),
        ("/responses", ProxyRoute(deps, surfaces.RESPONSES)),
        ("/embeddings", ProxyRoute(deps, surfaces.EMBEDDINGS)),
    )
    routes: dict[str, HotRoute] = {}
    for path, route in table:
        for p in (path, "/v1" + path):
            routes[p] = route
            routes[p + "/"] = route
    return routes


class LazyRoutes(BaseRoute):
    """Routes built on the first request that reaches them (in their place in the route order). The dashboard's
    pages import Jinja2 and a dozen page modules (~3 MB, ~0.2 s), the query, admin and prompt APIs their operations
    and the dashboard's stores (~1.5 MB): a gateway that only proxies never uses them. Only a path `wants` accepts
    builds them: a stray request (a scanner's 404) does not."""

    _KEY = "switchyard.lazy_route"

    def __init__(self, build: Callable[[], list[BaseRoute]], wants: Callable[[str], bool]) -> None:
        self._build = build
        self._wants = wants
        self._routes: list[BaseRoute] | None = None
        self.name = build.__name__

    @property
    def routes(self) -> list[BaseRoute]:
        if self._routes is None:
            self._routes = self._build()
        return self._routes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        partial: tuple[Match, Scope] = (Match.NONE, {})
        if self._routes is None and not self._wants(scope["path"]):
            return partial
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return match, {**child, self._KEY: route}
            if match is Match.PARTIAL and partial[0] is Match.NONE:
                partial = (match, {**child, self._KEY: route})
        return partial

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope[self._KEY].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)


def _dashboard_routes() -> list[BaseRoute]:
    from .dashboard import dashboard_routes

    return dashboard_routes()


def _api_routes() -> list[BaseRoute]:
    """Helicone's query, feedback and prompt APIs and the admin API (their operations and stores load with them)."""
    from .api.admin import admin_routes
    from .api.admin_prompts import admin_prompt_routes
    from .api.admin_usage import admin_usage_routes
    from .api.admin_webhooks import admin_webhook_routes
    from .api.insight_routes import insight_routes
    from .api.prompts_rest import prompt_rest_routes
    from .api.query import get_request, query_requests

    return [
        Route("/v1/request/query", query_requests, methods=["POST"]),
        Route("/v1/request/{request_id}", get_request, methods=["GET"]),
        *insight_routes(),
        *admin_routes(),
        *admin_webhook_routes(),
        *admin_usage_routes(),
        *admin_prompt_routes(),
        *prompt_rest_routes(),
    ]


def _api_path(path: str) -> bool:
    """Whether `path` may be one of `_api_routes` (each starts with one of these)."""
    return path.startswith(("/v1/request/", "/v1/session/", "/v1/user/", "/v1/prompt-2025", "/admin/"))


def _dashboard_path(path: str) -> bool:
    """Whether `path` may be one of the dashboard's routes (`/` redirects to it)."""
    return path == "/" or path.startswith("/dashboard")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = (
        "No such route."
        if exc.status_code == 404
        else f"Method {request.method} is not allowed on {request.url.path}."
    )
    err = GatewayError(
        exc.status_code, message, code="not_found" if exc.status_code == 404 else "method_not_allowed"
    )
    return Response(
        err.openai_body(), status_code=exc.status_code, media_type="application/json", headers=exc.headers
    )


async def _gateway_error(request: Request, exc: Exception) -> Response:
    """A GatewayError a route did not catch (e.g. a body limit raised while Starlette reads the body)."""
    assert isinstance(exc, GatewayError)
    return Response(
        exc.openai_body(), status_code=exc.status, media_type="application/json", headers=exc.headers
    )


# Cheap GET routes an orchestrator polls; they stay answerable when the process is at its in-flight cap.
_UNGATED = frozenset({"/healthz", "/readyz", "/metrics"})


class Gateway:
    """Top-level ASGI app. Proxy paths go straight to their handler; the rest to Starlette. Requests over the
    in-flight cap get 503 + Retry-After in the caller's shape; Starlette routes read bodies under the body limits.
    `limits` is also read by the HTTP protocol (api/server_limits.py)."""

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        providers: Any = None,
        transport: Any = None,
    ) -> None:
        self.settings = settings
        self.limits = ServerLimits.from_settings(settings.server)
        self._in_flight = 0
        self.deps: Deps | None = None
        self._hot: dict[str, HotRoute] = {}
        self._env = env
        self._providers = providers
        self._transport = transport  # upstream client; None: built from the settings (tests inject a fake)
        # a serving process (app_from_env) tunes its collector and GIL after start-up (settle_heap); an app built
        # inside another program (tests) leaves that program's process-wide settings alone
        self.settle = False
        self.starlette = Starlette(
            routes=[
                Route("/healthz", healthz),
                Route("/readyz", readyz),
                Route("/metrics", metrics),
                Route("/v1/models", list_models),
                Route("/models", list_models),
                Route("/v1/models/{model_id:path}", get_model),
                Route("/models/{model_id:path}", get_model),
                LazyRoutes(_api_routes, _api_path),
                LazyRoutes(_dashboard_routes, _dashboard_path),
            ],
            exception_handlers={HTTPException: _http_error, GatewayError: _gateway_error},
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with running(
            self.settings, env=self._env, providers=self._providers, transport=self._transport
        ) as deps:
            self.deps = deps
            app.state.deps = deps
            self._hot = _proxy_routes(deps)
            if self.settle:
                settle_heap()
            yield
            self._hot = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.starlette(scope, receive, send)
            return
        path = scope["path"]
        route = self._hot.get(path)
        if self._in_flight >= self.limits.max_in_flight and path not in _UNGATED:
            await self._overloaded(route, send)
            return
        self._in_flight += 1
        try:
            if route is None:
                server = self.settings.server
                guarded = GuardedReceive(
                    receive, scope["headers"], server.max_body_bytes, server.body_timeout_seconds
                )
                await self.starlette(scope, guarded, send)
            elif scope["method"] == "POST":
                await route(scope, receive, send)
            else:
                err = GatewayError(
                    405, f"Method {scope['method']} is not allowed here; use POST.", code="method_not_allowed"
                )
                await send_response(send, 405, err.openai_body(), [(b"allow", b"POST")])
        finally:
            self._in_flight -= 1

    async def _overloaded(self, route: HotRoute | None, send: Send) -> None:
        """503 without reading the body (uvicorn discards it; the protocol bounds how long)."""
        message = (
            f"The gateway is at its limit of {self.limits.max_in_flight} requests in flight; "
            f"retry in {RETRY_AFTER_SECONDS} s."
        )
        err = GatewayError(503, message, code="overloaded")
        body = route.spec.error_body(err) if route is not None else err.openai_body()
        await send_response(send, 503, body, [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())])


# Young-generation threshold: a request allocates a few hundred container objects, so CPython's default (700) runs a
# collection every request or two; 20,000 makes them ~30× rarer for the same total work (each scans what is young).
GC_THRESHOLDS = (20_000, 10, 10)


def settle_heap() -> None:
    """Once the gateway is built: move everything made at start-up (modules, settings, the registry, SQLAlchemy's
    tables: ~100k objects) to the collector's permanent generation. A full collection over them took 50–130 ms on
    the event loop — the p99 stalls at saturation; after `gc.freeze()` collections scan only what requests left.
    Also the collector's thresholds (above). (A 1 ms GIL switch interval for the SQLite driver's thread was tried:
    paired runs gave 0.84-0.90× the requests/s of the default 5 ms, same p99, so it is not set.)"""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def create_app(settings: Settings | None = None, **kwargs: Any) -> Gateway:
    return Gateway(settings or load_settings(), **kwargs)


def app_from_env() -> Gateway:
    """Factory for `uvicorn --factory` and multi-worker serving: settings from SWITCHYARD_CONFIG/SWITCHYARD_HOME."""
    app = create_app(load_settings(os.environ.get("SWITCHYARD_CONFIG")))
    app.settle = True
    return app
