"""The order test modules are handed to pytest-xdist workers: the slowest first (longest-processing-time first).

`make test` runs `--dist loadfile`: a module is one unit of work, given to whichever worker is free next, in the
order of the collection. pytest-xdist's default (`--loadscope-reorder`) sorts modules by their number of tests,
which put the single-test modules that start replicas, kill processes or drive a browser (the slowest of all)
at the very end, one worker each, while the others sat idle. Instead, the modules listed in module_costs.txt go
first, slowest first, and every other module follows in pytest-xdist's usual order (most tests first).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

COSTS = Path(__file__).with_name("module_costs.txt")


def module_costs(path: Path = COSTS) -> dict[str, float]:
    """{module path relative to the root: seconds} from module_costs.txt (`seconds path` lines, # comments)."""
    costs: dict[str, float] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            seconds, module = line.split()
            costs[module] = float(seconds)
    return costs


def slowest_modules_first(items: list[pytest.Item], costs: dict[str, float]) -> None:
    """Reorder `items` in place: whole modules, the costliest first, then the rest by their number of tests."""
    module = {id(item): item.nodeid.split("::", 1)[0] for item in items}
    count = Counter(module.values())
    first_seen = {m: i for i, m in reversed(list(enumerate(module[id(item)] for item in items)))}

    def key(item: pytest.Item) -> tuple[float, int, int]:
        m = module[id(item)]
        return (-costs.get(m, 0.0), -count[m], first_seen[m])

    items.sort(key=key)  # stable: a module's own tests keep their order
