"""Running the Node SDK scripts of tests/e2e/node against a gateway.

Without Node or the npm packages the tests are skipped (before any gateway starts) on a workstation, and fail
loudly under CI=true: `make test` runs `npm ci` there first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "e2e" / "node"
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(package: str) -> str | None:
    """Why the Node tests for `package` cannot run here, or None."""
    if shutil.which("node") is None:
        return "Node.js (`node`) is not on PATH"
    if not (NODE_DIR / "node_modules" / package / "package.json").exists():
        return f"the npm packages are not installed: run `npm ci` in {NODE_DIR} (make test does)"
    return None


def marks(package: str) -> list[pytest.MarkDecorator]:
    reason = missing(package)
    return [pytest.mark.node, pytest.mark.skipif(reason is not None and not IN_CI, reason=reason or "")]


def run_script(
    script: str, package: str, gateway: Any, upstream: Any, *, drop_env_prefix: str | None = None
) -> dict[str, Any]:
    """Run `node script` with BASE_URL and KEY; returns its last JSON line plus `_upstream` (what the mock saw)."""
    reason = missing(package)
    if reason is not None:
        pytest.fail(f"Node SDK end-to-end tests cannot run in CI: {reason}", pytrace=False)
    before = len(upstream.seen)
    env = {k: v for k, v in os.environ.items() if not (drop_env_prefix and k.startswith(drop_env_prefix))}
    env.update({"BASE_URL": gateway.url, "KEY": gateway.key, "NO_PROXY": "127.0.0.1,localhost"})
    proc = subprocess.run(
        ["node", script], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"node {script} failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line from {script}:\n{proc.stdout}\n{proc.stderr}"
    out = json.loads(lines[-1])
    out["_upstream"] = upstream.seen[before:]
    return out
