"""The dashboard's routes are built on the first request that reaches them (app.LazyRoutes), in their place in the
route order: the API routes before them answer without building them, and once built they answer as before."""

from __future__ import annotations

from support.asgi_gateway import AsgiGateway


async def test_dashboard_routes_are_built_on_first_use_and_route_as_before(gw: AsgiGateway) -> None:
    lazy = next(r for r in gw.app.starlette.routes if getattr(r, "name", "") == "_dashboard_routes")
    assert (await gw.client.get("/healthz")).status_code == 200
    assert lazy._routes is None  # an earlier route answered: the dashboard was not built

    page = await gw.client.get("/dashboard/signin")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert lazy._routes is not None
    assert (await gw.client.get("/dashboard/static/app.css")).status_code == 200

    missing = await gw.client.get("/no/such/route")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = await gw.client.put("/dashboard/signin")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
