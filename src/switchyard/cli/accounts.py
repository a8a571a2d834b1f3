"""`switchyard orgs ...` and `switchyard keys ...`: organisations and gateway keys, validated by the same code
as the admin API (the `admin` package)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..admin.base import parse
from ..admin.keys import (
    KeyCreate,
    KeyPatch,
    create_gateway_key,
    import_gateway_key,
    revoke_gateway_key,
    update_gateway_key,
)
from ..admin.limits import parse_limit_spec
from ..admin.orgs import OrgCreate, OrgPatch, create_org, resolve_org, update_org
from ..config import Settings
from ..stores.base import LimitRule
from ..stores.sql import SQLStore
from .runner import CommandError, command, run_store, secrets_for


def limits_text(limits: tuple[LimitRule, ...]) -> str:
    return ",".join(f"{r.metric}:{r.limit:g}:{r.window_seconds}:{r.per}" for r in limits) or "none"


def _limits(args: argparse.Namespace) -> list[dict[str, Any]] | None:
    """--limit SPEC (repeatable) → the API's JSON form; --no-limits → []; neither → None (unchanged)."""
    if getattr(args, "no_limits", False):
        if args.limit:
            raise CommandError("give --limit or --no-limits, not both")
        return []
    if not args.limit:
        return None
    return [parse_limit_spec(spec).as_dict() for spec in args.limit]


def _models(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    return [m.strip() for m in raw.split(",") if m.strip()]


def _body(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


@command
def cmd_orgs_create(settings: Settings, args: argparse.Namespace) -> int:
    body = parse(OrgCreate, {"name": args.name})
    org = run_store(settings, lambda s: create_org(s, body))
    print(f"created organisation {org.name} ({org.id})")
    return 0


@command
def cmd_orgs_list(settings: Settings, args: argparse.Namespace) -> int:
    for org in run_store(settings, lambda s: s.list_orgs()):
        print(f"{org.id}  {org.name}")
    return 0


@command
def cmd_orgs_update(settings: Settings, args: argparse.Namespace) -> int:
    body = parse(
        OrgPatch,
        _body(
            credits_enabled=args.credits_enabled,
            limits=_limits(args),
            allow_caller_provider_keys=args.allow_caller_provider_keys,
        ),
    )
    if body.credits_enabled is None and body.limits is None and body.allow_caller_provider_keys is None:
        raise CommandError(
            "nothing to update: give --credits-enabled/--no-credits-enabled, --allow-caller-provider-keys/"
            "--no-allow-caller-provider-keys, --limit or --no-limits"
        )

    async def go(store: SQLStore) -> Any:
        return await update_org(store, await resolve_org(store, args.org), body)

    org = run_store(settings, go, publish=True)
    print(
        f"updated organisation {org.name}: credits {'enabled' if org.credits_enabled else 'disabled'}, "
        f"limits {limits_text(org.limits)}, caller provider keys "
        f"{'allowed' if org.allow_caller_provider_keys else 'not allowed'}"
    )
    return 0


@command
def cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    body = parse(
        KeyCreate, _body(name=args.name, allowed_models=_models(args.allowed_models), limits=_limits(args))
    )

    async def go(store: SQLStore) -> Any:
        return await create_gateway_key(
            store, await secrets_for(settings, store), await resolve_org(store, args.org), body
        )

    key, rec = run_store(settings, go, publish=True)
    print(f"created gateway key {rec.id} for organisation {args.org} (shown once, store it now):")
    print(key)
    return 0


@command
def cmd_keys_import(settings: Settings, args: argparse.Namespace) -> int:
    """Reads the key from standard input (never from the command line, where `ps` and shell history see it)."""
    key = sys.stdin.read().strip()
    if not key:
        raise CommandError(
            'no key on standard input: echo "$HELICONE_API_KEY" | switchyard keys import --org NAME'
        )

    async def go(store: SQLStore) -> Any:
        org = await resolve_org(store, args.org)
        return await import_gateway_key(store, await secrets_for(settings, store), org, key, args.name)

    rec = run_store(settings, go, publish=True)
    print(
        f"imported gateway key {rec.id} ({rec.prefix}) for organisation {args.org}; only its hash is stored"
    )
    return 0


@command
def cmd_keys_list(settings: Settings, args: argparse.Namespace) -> int:
    async def go(store: SQLStore) -> list[Any]:
        org_id = (await resolve_org(store, args.org)).id if args.org else None
        orgs = {o.id: o.name for o in await store.list_orgs()}
        return [(k, orgs.get(k.org_id, "?")) for k in await store.list_keys(org_id)]

    for k, org in run_store(settings, go):
        state = "active" if k.active else "revoked"
        extra = ""
        if k.allowed_models:
            extra += f"  models={','.join(k.allowed_models)}"
        if k.limits:
            extra += f"  limits={limits_text(k.limits)}"
        print(f"{k.id}  {k.prefix:<14} {state:<8} org={org}  name={k.name or ''}{extra}")
    return 0


@command
def cmd_keys_update(settings: Settings, args: argparse.Namespace) -> int:
    body = parse(
        KeyPatch, _body(name=args.name, allowed_models=_models(args.allowed_models), limits=_limits(args))
    )
    if body.name is None and body.allowed_models is None and body.limits is None:
        raise CommandError("nothing to update: give --name, --allowed-models, --limit or --no-limits")
    k = run_store(settings, lambda s: update_gateway_key(s, args.key_id, body), publish=True)
    print(
        f"updated gateway key {k.id} ({k.prefix}): models {','.join(k.allowed_models) or 'all'}, "
        f"limits {limits_text(k.limits)}"
    )
    return 0


@command
def cmd_keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    k = run_store(settings, lambda s: revoke_gateway_key(s, args.key_id), publish=True)
    print(f"revoked gateway key {k.id} ({k.prefix})")
    return 0


LIMIT_HELP = (
    "a limit metric:limit:window[:per] (repeatable): metric requests|tokens|usd, window in seconds or with an "
    "s/m/h/d suffix, per key|org|user|property:NAME (default key); e.g. requests:100:60, usd:5:1d:user"
)


def _limit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", action="append", metavar="SPEC", help=LIMIT_HELP)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    orgs = sub.add_parser("orgs", parents=[common], help="manage organisations").add_subparsers(
        dest="action", required=True
    )
    oc = orgs.add_parser("create", parents=[common], help="create an organisation")
    oc.add_argument("name")
    oc.set_defaults(fn=cmd_orgs_create)
    orgs.add_parser("list", parents=[common], help="list organisations").set_defaults(fn=cmd_orgs_list)
    ou = orgs.add_parser("update", parents=[common], help="change an organisation's credits switch or limits")
    ou.add_argument("org", metavar="NAME", help="organisation name or id")
    ou.add_argument(
        "--credits-enabled",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve through the gateway's own provider keys, paid from the organisation's credits",
    )
    ou.add_argument(
        "--allow-caller-provider-keys",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Helicone proxy style: a caller's own provider key (Authorization or x-api-key, with the gateway key "
        "in Helicone-Auth) is used for that one request, never stored",
    )
    _limit_args(ou)
    ou.add_argument("--no-limits", action="store_true", help="remove every organisation limit")
    ou.set_defaults(fn=cmd_orgs_update)

    keys = sub.add_parser("keys", parents=[common], help="manage gateway keys").add_subparsers(
        dest="action", required=True
    )
    kc = keys.add_parser(
        "create", parents=[common], help="create a gateway key; prints it as the last line, once"
    )
    kc.add_argument("--org", required=True, help="organisation name or id")
    kc.add_argument("--name", help="a label for the key")
    kc.add_argument(
        "--allowed-models", metavar="A,B", help="only these models (registry ids or model/provider)"
    )
    _limit_args(kc)
    kc.set_defaults(fn=cmd_keys_create)
    ki = keys.add_parser(
        "import",
        parents=[common],
        help="register an existing key (e.g. sk-helicone-…) read from standard input",
    )
    ki.add_argument("--org", required=True, help="organisation name or id")
    ki.add_argument("--name", help="a label for the key")
    ki.set_defaults(fn=cmd_keys_import)
    kl = keys.add_parser("list", parents=[common], help="list gateway keys (never the keys themselves)")
    kl.add_argument("--org", help="only this organisation")
    kl.set_defaults(fn=cmd_keys_list)
    ku = keys.add_parser("update", parents=[common], help="change a gateway key's label, models or limits")
    ku.add_argument("key_id")
    ku.add_argument("--name", help="a new label")
    ku.add_argument(
        "--allowed-models", metavar="A,B", help="only these models; an empty string allows every model"
    )
    _limit_args(ku)
    ku.add_argument("--no-limits", action="store_true", help="remove every limit of the key")
    ku.set_defaults(fn=cmd_keys_update)
    kr = keys.add_parser(
        "revoke", parents=[common], help="revoke a gateway key by id (effective within a second)"
    )
    kr.add_argument("key_id")
    kr.set_defaults(fn=cmd_keys_revoke)
