"""The dashboard: server-rendered pages (Jinja2 + htmx, uPlot charts) served by `switchyard serve` at /dashboard.

Pages read data only through `stores.insights` (the same layer as the REST API) and change keys and credits only
through the `admin` package (the same operations as the admin API and the CLI).
"""

from .routes import dashboard_routes

__all__ = ["dashboard_routes"]
