"""The serving process: uvicorn running the app (`switchyard.app:app_from_env`) with the gateway's HTTP protocol.

`switchyard serve` prepares the store and the environment, then calls `run` (one worker) or, with several
workers, replaces itself with `python -m switchyard.cli.serving` (os.execv, options in $SWITCHYARD_SERVE_OPTIONS)
so the supervising parent holds uvicorn and nothing of the CLI. One worker also serves from a fresh interpreter
when the start applied migrations, so Alembic is not kept for the process's life.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

OPTIONS_ENV = "SWITCHYARD_SERVE_OPTIONS"


def uvicorn_options(options: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's settings for the gateway's server stack (also used by bench/floor_app.py, which measures that
    stack with no gateway behind it)."""
    from ..api.server_limits import LimitedHttpToolsProtocol

    return {
        "host": options["host"],
        "port": options["port"],
        "workers": options["workers"],
        "loop": "uvloop",
        # httptools with a header-size cap, header deadline and connection cap (api/server_limits.py)
        "http": LimitedHttpToolsProtocol,
        "ws": "none",  # no WebSocket routes: Upgrade requests are plain HTTP requests
        "lifespan": "on",
        "access_log": options["access_log"],
        "log_level": "warning",
        "timeout_graceful_shutdown": options["graceful_shutdown_seconds"],
        "backlog": 4096,
        "timeout_keep_alive": 75,
        # A worker imports the whole gateway before it answers uvicorn's health check; on a slow or busy host that
        # takes longer than uvicorn's 5 s default, which would kill and restart workers forever.
        "timeout_worker_healthcheck": 120,
        "proxy_headers": False,
        "server_header": False,
    }


def run(options: dict[str, Any]) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uvicorn.run("switchyard.app:app_from_env", factory=True, **uvicorn_options(options))


if __name__ == "__main__":
    run(json.loads(os.environ.pop(OPTIONS_ENV)))
