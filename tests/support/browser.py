"""Headless Chromium for the dashboard's browser tests, through Playwright's sync API.

Importing this module skips the importing test module when Playwright is not installed (a dev dependency,
uv.lock), except under CI=true, where its absence is a failure. Open `chromium()` in a module-scoped fixture,
never a session-scoped one: the sync API keeps an event loop running in this thread while it is open, so a
session-wide browser made every later asyncio.run() in the suite fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

try:
    import playwright.sync_api as playwright_api
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("playwright is not installed (make install)", allow_module_level=True)
expect = playwright_api.expect

CHROMIUM = "/usr/bin/chromium"
ARGS = ("--headless", "--no-sandbox", "--disable-gpu")


@contextmanager
def chromium(args: Sequence[str] = ARGS) -> Iterator[Any]:
    """A launched headless Chromium, closed on exit; a missing binary skips the test, or fails it under CI=true."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (apt-get install chromium; `make test` installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the browser tests must run)")
        pytest.skip(message)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(args), headless=True)
        yield b
        b.close()
