"""`switchyard serve` and `switchyard migrate`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import socket
import sys

from ..admin.keys import KeyCreate, create_gateway_key
from ..config import Settings
from ..stores.base import Conflict
from ..stores.sql import SQLStore
from . import serving
from .runner import CommandError, run_store, secrets_for

DEFAULT_ORG = "default"


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from ..observe.metrics_multiprocess import ENV as MULTIPROC_ENV
    from ..observe.metrics_multiprocess import prepare_dir

    host = args.host or settings.server.host
    port = args.port or settings.server.port
    workers = args.workers or settings.server.workers

    async def bootstrap(store: SQLStore) -> str | None:
        secrets = await secrets_for(settings, store)  # refuses a master key the database does not know
        org = await store.get_org_by_name(DEFAULT_ORG)
        if org is None:
            try:
                org = await store.create_org(DEFAULT_ORG)
            except Conflict:  # another replica starting at the same moment created it first
                org = await store.get_org_by_name(DEFAULT_ORG)
                assert org is not None
        if await store.list_keys():
            return None
        key, _ = await create_gateway_key(store, secrets, org, KeyCreate(name="default"))
        return key

    try:
        first_key = run_store(settings, bootstrap)
    except CommandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if settings.database_url.startswith("postgres") and not settings.security.master_key:
        print(
            f"warning: security.master_key is not set, so this gateway uses {settings.home_path / 'master.key'}; "
            "every replica sharing this database must use that same key (set security.master_key)",
            file=sys.stderr,
        )
    if first_key:
        print(
            "Switchyard: created organisation 'default' and its first gateway key (shown once, store it now):"
        )
        print(f"  {first_key}")
    print(
        f"Switchyard listening on http://{host}:{port} (store: {safe_url(settings.database_url)}, workers: {workers})",
        flush=True,
    )
    if args.config:
        os.environ["SWITCHYARD_CONFIG"] = os.path.abspath(args.config)
    os.environ["SWITCHYARD_HOME"] = settings.home
    # every worker writes its metric totals here and a scrape of any worker merges them (observe/metrics*.py)
    os.environ[MULTIPROC_ENV] = str(prepare_dir(settings.home_path, f"{socket.gethostname()}-{host}-{port}"))
    raise_fd_limit(settings.server.max_connections)
    options = {
        "host": host,
        "port": port,
        "workers": workers,
        "access_log": bool(args.access_log),
        "graceful_shutdown_seconds": int(settings.server.graceful_shutdown_seconds) or None,
    }
    if workers > 1 or migrated_here():
        # A fresh interpreter from here on (same pid, environment and limits). With several workers this process
        # only supervises them: it holds uvicorn alone, leaving SQLAlchemy, the admin operations and the CLI behind
        # (~80 -> ~40 MB). One worker serves in this process, with no second start-up, unless this start applied
        # migrations: then the worker is the fresh interpreter, which never loads Alembic, Mako and Pygments
        # (~12 MB for the process's life otherwise; tests/e2e/test_serving_footprint.py).
        os.environ[serving.OPTIONS_ENV] = json.dumps(options)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", serving.__name__])
    serving.run(options)
    return 0


def migrated_here() -> bool:
    """Whether this process ran the database migrations (the store imports Alembic only to apply some)."""
    return "alembic" in sys.modules


def raise_fd_limit(max_connections: int) -> None:
    """Lift the soft descriptor limit so `server.max_connections` callers (each may hold an upstream socket too)
    fit; warn when the hard limit does not allow it."""
    wanted = 2 * max_connections + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < wanted:
            logging.getLogger("switchyard").warning(
                "open-file limit %d is below the %d that server.max_connections=%d needs; raise `ulimit -n` "
                "or lower server.max_connections",
                target,
                wanted,
                max_connections,
            )


def safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    run_store(settings, lambda store: asyncio.sleep(0))
    print(f"migrations applied to {safe_url(settings.database_url)}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser(
        "serve",
        parents=[common],
        help="run the gateway (creates the default org and a first key on first start)",
    )
    s.add_argument("--host", help="bind address (default: server.host, 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default: server.port, 8787)")
    s.add_argument(
        "--workers", type=int, help="worker processes sharing the port (default: server.workers, 1)"
    )
    s.add_argument("--access-log", action="store_true", help="log every HTTP request line")
    s.set_defaults(fn=cmd_serve)

    m = sub.add_parser("migrate", parents=[common], help="apply database migrations")
    m.set_defaults(fn=cmd_migrate)
