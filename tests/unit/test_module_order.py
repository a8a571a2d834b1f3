"""The suite's own scheduling (tests/support/module_order.py): whole modules, the slowest listed first."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from support.module_order import COSTS, module_costs, slowest_modules_first


def items(*nodeids: str) -> list[Any]:
    return [SimpleNamespace(nodeid=n) for n in nodeids]


def test_listed_modules_go_first_slowest_first_then_the_rest_by_number_of_tests() -> None:
    got = items(
        "u/a.py::t1", "u/b.py::t1", "u/b.py::t2", "e/slow.py::t1", "e/slower.py::t1", "e/slower.py::t2"
    )
    slowest_modules_first(got, {"e/slow.py": 10.0, "e/slower.py": 50.0})
    assert [i.nodeid for i in got] == [
        "e/slower.py::t1",
        "e/slower.py::t2",
        "e/slow.py::t1",
        "u/b.py::t1",
        "u/b.py::t2",
        "u/a.py::t1",
    ]


def test_the_checked_in_costs_name_existing_modules() -> None:
    root = COSTS.parents[2]
    costs = module_costs()
    assert len(costs) > 20
    assert [m for m in costs if not (root / m).is_file()] == []
