"""Keep the cyclic garbage collector's full collections small in a test process.

A pytest-xdist worker holds ~600k-1M long-lived objects (every test module, the SDKs, the gateway's modules), and
CPython's full (oldest-generation) collection traverses all of them each time it runs: in `tests/unit` on one
process, 26 of them cost 9 s of 75 s of CPU. After the collection phase, and again after each test module (its
fixtures torn down), whatever survives a collection is moved to the permanent generation (`gc.freeze()`), so later
full collections traverse only what later tests made. Nothing that is garbage at those points is frozen (it is
collected first), and a test that calls gc.collect() still collects everything it made itself.
"""

from __future__ import annotations

import gc

import pytest


def settle() -> None:
    gc.collect()
    gc.freeze()


def after_test(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Settle the heap when `item` was the last test of its module (its module-scoped fixtures are torn down)."""
    if nextitem is None or nextitem.nodeid.split("::", 1)[0] != item.nodeid.split("::", 1)[0]:
        settle()
