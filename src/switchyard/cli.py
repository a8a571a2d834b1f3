"""Command line: serve, migrate, orgs, keys.

Every subcommand takes --config PATH (or $SWITCHYARD_CONFIG); embedded state lives in $SWITCHYARD_HOME
(default ./.switchyard).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from .config import ConfigError, Settings, load_settings
from .deps import open_store
from .security import Secrets, display_prefix, load_or_create_master, new_gateway_key
from .stores.base import Conflict, NotFound
from .stores.sql import SQLStore

DEFAULT_ORG = "default"


def _run(settings: Settings, fn: Callable[[SQLStore], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        store = open_store(settings)
        try:
            await store.migrate()
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(go())


async def _create_key(settings: Settings, store: SQLStore, org_name: str, name: str | None) -> tuple[str, Any]:
    org = await store.get_org_by_name(org_name)
    if org is None:
        raise SystemExit(f"error: no organisation named {org_name!r} (create it with: switchyard orgs create {org_name})")
    secrets = Secrets(load_or_create_master(settings.security.master_key, settings.home_path))
    key = new_gateway_key()
    rec = await store.create_key(org.id, secrets.hash_key(key), display_prefix(key), name)
    return key, rec


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    host = args.host or settings.server.host
    port = args.port or settings.server.port
    workers = args.workers or settings.server.workers

    async def bootstrap(store: SQLStore) -> str | None:
        org = await store.get_org_by_name(DEFAULT_ORG) or await store.create_org(DEFAULT_ORG)
        if await store.list_keys():
            return None
        key, _ = await _create_key(settings, store, org.name, "default")
        return key

    first_key = _run(settings, bootstrap)
    if first_key:
        print("Switchyard: created organisation 'default' and its first gateway key (shown once, store it now):")
        print(f"  {first_key}")
    print(f"Switchyard listening on http://{host}:{port} (store: {_safe_url(settings.database_url)}, workers: {workers})", flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.config:
        os.environ["SWITCHYARD_CONFIG"] = os.path.abspath(args.config)
    os.environ["SWITCHYARD_HOME"] = settings.home
    uvicorn.run(
        "switchyard.app:app_from_env", factory=True, host=host, port=port, workers=workers,
        loop="uvloop", http="httptools", lifespan="on", access_log=args.access_log, log_level="warning",
        timeout_graceful_shutdown=int(settings.server.graceful_shutdown_seconds) or None,
        backlog=4096, timeout_keep_alive=75, proxy_headers=False, server_header=False,
    )
    return 0


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    _run(settings, lambda store: asyncio.sleep(0))
    print(f"migrations applied to {_safe_url(settings.database_url)}")
    return 0


def cmd_orgs_create(settings: Settings, args: argparse.Namespace) -> int:
    try:
        org = _run(settings, lambda s: s.create_org(args.name))
    except Conflict as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"created organisation {org.name} ({org.id})")
    return 0


def cmd_orgs_list(settings: Settings, args: argparse.Namespace) -> int:
    for org in _run(settings, lambda s: s.list_orgs()):
        print(f"{org.id}  {org.name}")
    return 0


def cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    key, rec = _run(settings, lambda s: _create_key(settings, s, args.org, args.name))
    print(f"created gateway key {rec.id} for organisation {args.org} (shown once, store it now):")
    print(key)
    return 0


def cmd_keys_list(settings: Settings, args: argparse.Namespace) -> int:
    async def go(store: SQLStore) -> list[Any]:
        org_id = None
        if args.org:
            org = await store.get_org_by_name(args.org)
            if org is None:
                raise SystemExit(f"error: no organisation named {args.org!r}")
            org_id = org.id
        orgs = {o.id: o.name for o in await store.list_orgs()}
        return [(k, orgs.get(k.org_id, "?")) for k in await store.list_keys(org_id)]

    for k, org in _run(settings, go):
        state = "active" if k.active else "revoked"
        print(f"{k.id}  {k.prefix:<14} {state:<8} org={org}  name={k.name or ''}")
    return 0


def cmd_keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    try:
        k = _run(settings, lambda s: s.revoke_key(args.key_id))
    except NotFound as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"revoked gateway key {k.id} ({k.prefix})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="YAML config file (default: $SWITCHYARD_CONFIG; none = embedded defaults)")
    p = argparse.ArgumentParser(prog="switchyard", description="Switchyard: a self-hostable, Helicone-compatible AI gateway.", parents=[common])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", parents=[common], help="run the gateway (creates the default org and a first key on first start)")
    s.add_argument("--host", help="bind address (default: server.host, 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default: server.port, 8787)")
    s.add_argument("--workers", type=int, help="worker processes sharing the port (default: server.workers, 1)")
    s.add_argument("--access-log", action="store_true", help="log every HTTP request line")
    s.set_defaults(fn=cmd_serve)

    m = sub.add_parser("migrate", parents=[common], help="apply database migrations")
    m.set_defaults(fn=cmd_migrate)

    orgs = sub.add_parser("orgs", parents=[common], help="manage organisations").add_subparsers(dest="action", required=True)
    oc = orgs.add_parser("create", parents=[common], help="create an organisation")
    oc.add_argument("name")
    oc.set_defaults(fn=cmd_orgs_create)
    orgs.add_parser("list", parents=[common], help="list organisations").set_defaults(fn=cmd_orgs_list)

    keys = sub.add_parser("keys", parents=[common], help="manage gateway keys").add_subparsers(dest="action", required=True)
    kc = keys.add_parser("create", parents=[common], help="create a gateway key; prints it as the last line, once")
    kc.add_argument("--org", required=True, help="organisation name")
    kc.add_argument("--name", help="a label for the key")
    kc.set_defaults(fn=cmd_keys_create)
    kl = keys.add_parser("list", parents=[common], help="list gateway keys (never the keys themselves)")
    kl.add_argument("--org", help="only this organisation")
    kl.set_defaults(fn=cmd_keys_list)
    kr = keys.add_parser("revoke", parents=[common], help="revoke a gateway key by id (effective within a second)")
    kr.add_argument("key_id")
    kr.set_defaults(fn=cmd_keys_revoke)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return args.fn(settings, args)


if __name__ == "__main__":
    sys.exit(main())
