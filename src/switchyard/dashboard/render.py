"""Templates: one autoescaping Jinja2 environment and the formatting filters the pages use.

Autoescape is on for every template, and no template marks data `|safe`: a prompt, model name, user id or
property value holding HTML is shown as text. JSON handed to scripts goes through `|tojson` (which escapes `<`,
`>`, `&` and `'`) inside `<script type="application/json">` blocks, which browsers never execute.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
import math
from typing import Any
from urllib.parse import quote

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

NAV = (
    ("overview", "Overview", "/dashboard"),
    ("requests", "Requests", "/dashboard/requests"),
    ("sessions", "Sessions", "/dashboard/sessions"),
    ("users", "Users", "/dashboard/users"),
    ("properties", "Properties", "/dashboard/properties"),
    ("prompts", "Prompts", "/dashboard/prompts"),
    ("keys", "Keys and money", "/dashboard/keys"),
    ("health", "Health", "/dashboard/health"),
)


def usd(v: Any) -> str:
    if v is None:
        return "—"
    v = float(v)
    if v == 0:
        return "$0"
    if abs(v) < 0.01:
        return f"${v:.6f}".rstrip("0")
    if abs(v) < 1:
        return f"${v:,.4f}".rstrip("0").rstrip(".")
    return f"${v:,.2f}"


def num(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.2f}"
    return f"{int(v):,}"


def ms(v: Any) -> str:
    if v is None:
        return "—"
    v = float(v)
    if v >= 10_000:
        return f"{v / 1000:,.1f} s"
    return f"{v:,.0f} ms"


def pct(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{float(v) * 100:.1f}%"


def when(epoch_ms: Any) -> str:
    if epoch_ms is None:
        return "—"
    t = dt.datetime.fromtimestamp(int(epoch_ms) / 1000, dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(epoch_ms: Any) -> str:
    if epoch_ms is None:
        return ""
    t = dt.datetime.fromtimestamp(int(epoch_ms) / 1000, dt.UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seg(v: Any) -> str:
    """A value as one URL path segment (a session id may hold '/')."""
    return quote(str(v), safe="")


def pretty_json(v: Any) -> str:
    if isinstance(v, str):
        try:
            v = orjson.loads(v)
        except orjson.JSONDecodeError:
            return v
    try:
        return orjson.dumps(v, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return str(v)


def _static_version() -> str:
    """A short digest of the static files, appended to their URLs so a new release is never served stale."""
    h = hashlib.sha256()
    root = importlib.resources.files("switchyard.dashboard") / "static"
    for name in (
        "app.css",
        "app.js",
        "vendor/htmx.min.js",
        "vendor/uPlot.iife.min.js",
        "vendor/uPlot.min.css",
    ):
        h.update((root / name).read_bytes())
    return h.hexdigest()[:10]


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("switchyard.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(usd=usd, num=num, ms=ms, pct=pct, when=when, iso=iso, pretty_json=pretty_json, seg=seg)
    env.globals.update(nav=NAV, static_version=_static_version())
    return env
