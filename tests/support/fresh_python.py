"""What a new interpreter prints: `code` run by `python -c` with this test run's import path and nothing else of
its environment (PATH, PYTHONPATH, and `env`), its last line of output read as JSON. For tests of what a process
imports, which must not see what the test process has already loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def fresh_python_json(code: str, *, cwd: Path | None = None, env: dict[str, str] | None = None) -> Any:
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path), **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
