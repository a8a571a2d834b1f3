"""`switchyard provider-keys ...`: an organisation's own provider keys (BYOK).

The key is read from `--key-env VAR` or stdin, and secret config fields (Bedrock's secret access key, session
token) only from `--set-env NAME=VAR`: nothing secret is ever an argument, so nothing secret lands in shell
history or `ps`. Listings show the last four characters (the hint), never the key.
"""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from ..admin.base import parse
from ..admin.orgs import resolve_org
from ..admin.provider_keys import (
    ProviderKeyCreate,
    ProviderKeyPatch,
    create_provider_key,
    delete_provider_key,
    list_provider_keys,
    provider_key_json,
    secret_config_names,
    update_provider_key,
)
from ..config import Settings
from ..pipeline.byok_egress import ByokPolicy
from ..providers.registry import load_registry
from ..stores.base import ProviderKey
from ..stores.sql import SQLStore
from .runner import CommandError, command, env_secret, run_store, secrets_for, stdin_secret


def _pairs(items: list[str] | None, flag: str) -> list[tuple[str, str]]:
    out = []
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"{flag} {item!r}: expected NAME=VALUE")
        out.append((name.strip(), value))
    return out


def _config(args: argparse.Namespace) -> dict[str, Any] | None:
    config: dict[str, Any] = {}
    for name, value in _pairs(args.set, "--set"):
        if name in secret_config_names():
            raise CommandError(
                f"config {name} is a secret: pass it as --set-env {name}=VAR, not on the command line"
            )
        config[name] = value
    for name, var in _pairs(args.set_env, "--set-env"):
        config[name] = env_secret(var, f"--set-env {name}")
    for name in getattr(args, "unset", None) or ():
        config[name] = None
    return config or None


def _key(args: argparse.Namespace, required: bool) -> str | None:
    if args.key_env:
        return env_secret(args.key_env, "--key-env")
    if required or args.key_stdin:
        return stdin_secret("Provider key (not echoed): ")
    return None


def describe(pk: ProviderKey) -> str:
    config = ",".join(f"{k}={v}" for k, v in sorted(pk.config.items()))
    state = "enabled" if pk.enabled else "disabled"
    return f"{pk.id}  {pk.provider:<16} …{pk.hint or '????'}  {state:<8} {config}".rstrip()


@command
def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    config = _config(args)  # before the key: a bad flag fails before stdin is read
    key = _key(args, required=True)
    body = parse(
        ProviderKeyCreate,
        {
            "provider": args.provider,
            "key": key,
            "id": args.id,
            "config": config,
            "enabled": not args.disabled,
        },
    )
    registry = load_registry(settings)

    async def go(store: SQLStore) -> ProviderKey:
        org = await resolve_org(store, args.org)
        return await create_provider_key(
            store,
            await secrets_for(settings, store),
            registry,
            org,
            body,
            policy=ByokPolicy(settings.security.byok_endpoints, registry),
        )

    pk = run_store(settings, go, publish=True)
    print(f"added provider key {pk.id} ({pk.provider}, …{pk.hint or '????'}) to organisation {args.org}")
    return 0


@command
def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async def go(store: SQLStore) -> list[ProviderKey]:
        return await list_provider_keys(store, await resolve_org(store, args.org))

    keys = run_store(settings, go)
    if args.json:
        print(orjson.dumps([provider_key_json(k) for k in keys], option=orjson.OPT_INDENT_2).decode())
    for pk in [] if args.json else keys:
        print(describe(pk))
    return 0


@command
def cmd_update(settings: Settings, args: argparse.Namespace) -> int:
    fields = {"config": _config(args), "enabled": args.enabled}
    fields["key"] = _key(args, required=False)
    body = parse(ProviderKeyPatch, {k: v for k, v in fields.items() if v is not None})
    if body.key is None and body.config is None and body.enabled is None:
        raise CommandError(
            "nothing to update: give --key-env/--key-stdin, --set, --set-env, --unset, --enable or --disable"
        )

    async def go(store: SQLStore) -> ProviderKey:
        org = await resolve_org(store, args.org)
        policy = ByokPolicy(settings.security.byok_endpoints, load_registry(settings))
        return await update_provider_key(
            store, await secrets_for(settings, store), org, args.key_id, body, policy=policy
        )

    print(f"updated provider key {describe(run_store(settings, go, publish=True))}")
    return 0


@command
def cmd_remove(settings: Settings, args: argparse.Namespace) -> int:
    async def go(store: SQLStore) -> None:
        await delete_provider_key(store, await resolve_org(store, args.org), args.key_id)

    run_store(settings, go, publish=True)
    print(f"removed provider key {args.key_id} from organisation {args.org}")
    return 0


def _secret_args(p: argparse.ArgumentParser, update: bool) -> None:
    p.add_argument(
        "--key-env",
        metavar="VAR",
        help="read the provider key from this environment variable"
        + ("" if update else " (default: read it from stdin)"),
    )
    if update:
        p.add_argument("--key-stdin", action="store_true", help="read a new provider key from stdin")
    p.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="provider config (repeatable): region, resource, deployment, api_version, base_url, "
        "project, location, endpoint, cross_region",
    )
    p.add_argument(
        "--set-env",
        action="append",
        metavar="NAME=VAR",
        help="a config value from an environment variable (repeatable); the only way to give Bedrock's "
        "secret_access_key, access_key_id or session_token",
    )


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    pk = sub.add_parser(
        "provider-keys", parents=[common], help="manage an organisation's own provider keys (BYOK)"
    )
    actions = pk.add_subparsers(dest="action", required=True)

    add = actions.add_parser(
        "add", parents=[common], help="store a provider key (read from --key-env or stdin)"
    )
    add.add_argument("--org", required=True, help="organisation name or id")
    add.add_argument(
        "--provider", required=True, help="provider id or alias (openai, anthropic, azure, bedrock, ...)"
    )
    add.add_argument("--id", help="the key's id, addressable as model/provider/<id> (default: generated)")
    add.add_argument("--disabled", action="store_true", help="store it disabled")
    _secret_args(add, update=False)
    add.set_defaults(fn=cmd_add)

    ls = actions.add_parser("list", parents=[common], help="list provider keys (hints only, never the keys)")
    ls.add_argument("--org", required=True, help="organisation name or id")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(fn=cmd_list)

    up = actions.add_parser(
        "update", parents=[common], help="replace a key, change its config, enable or disable it"
    )
    up.add_argument("key_id")
    up.add_argument("--org", required=True, help="organisation name or id")
    _secret_args(up, update=True)
    up.add_argument("--unset", action="append", metavar="NAME", help="remove a config field (repeatable)")
    up.add_argument(
        "--enable", dest="enabled", action="store_const", const=True, default=None, help="use the key"
    )
    up.add_argument(
        "--disable", dest="enabled", action="store_const", const=False, help="keep it but stop using it"
    )
    up.set_defaults(fn=cmd_update)

    rm = actions.add_parser("remove", parents=[common], help="delete a provider key")
    rm.add_argument("key_id")
    rm.add_argument("--org", required=True, help="organisation name or id")
    rm.set_defaults(fn=cmd_remove)
