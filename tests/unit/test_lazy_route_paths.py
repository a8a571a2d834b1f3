"""app.py builds the API and dashboard routes on the first request whose path their `wants` test accepts; that
test is a list of prefixes kept by hand. Every route the builders make must pass it, or a new route under a new
prefix would answer 404 until some other request happened to build its group."""

from __future__ import annotations

from starlette.routing import BaseRoute

from switchyard.app import _api_path, _api_routes, _dashboard_path, _dashboard_routes


def _static_heads(routes: list[BaseRoute]) -> list[str]:
    """Each route's path up to its first parameter (the part a request's path starts with)."""
    return [
        path.split("{")[0] or "/" for path in (getattr(r, "path", None) for r in routes) if path is not None
    ]


def test_every_api_route_is_wanted_by_its_lazy_group() -> None:
    heads = _static_heads(_api_routes())
    assert heads and [h for h in heads if not _api_path(h)] == []


def test_every_dashboard_route_is_wanted_by_its_lazy_group() -> None:
    heads = _static_heads(_dashboard_routes())
    assert heads and [h for h in heads if not _dashboard_path(h)] == []


def test_the_proxy_and_a_stray_path_are_wanted_by_neither() -> None:
    for path in ("/v1/chat/completions", "/v1/messages", "/wp-login.php", "/v1/models"):
        assert not _api_path(path) and not _dashboard_path(path)
