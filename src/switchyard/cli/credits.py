"""`switchyard credits ...`: an organisation's prepaid balance for calls through the gateway's own provider keys."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

import orjson

from ..admin.base import MAX_PAGE, page, parse, store_errors
from ..admin.credits import CreditGrant, balance_json, grant_credits, ledger_json
from ..admin.orgs import resolve_org
from ..config import Settings
from ..stores.sql import SQLStore
from .runner import CommandError, command, fmt_usd, run_store


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@command
def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    try:
        amount = float(args.amount_usd)
    except ValueError:
        raise CommandError(
            f"amount {args.amount_usd!r}: expected a number of US dollars, e.g. 25 or 12.50"
        ) from None
    body = parse(CreditGrant, {"amount_usd": amount, **({"note": args.note} if args.note else {})})

    async def go(store: SQLStore) -> Any:
        org = await resolve_org(store, args.org)
        await grant_credits(store, org, body)
        return org, await store.credit_balance(org.id)

    org, balance = run_store(settings, go)
    print(
        f"added {fmt_usd(body.amount_usd)} to organisation {org.name}: balance {fmt_usd(balance.balance_usd)}, "
        f"available {fmt_usd(balance.available_usd)}"
    )
    if not org.credits_enabled:
        print(
            f"note: credits are not enabled for {org.name}; enable with: switchyard orgs update {org.name} "
            "--credits-enabled"
        )
    return 0


@command
def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    async def go(store: SQLStore) -> Any:
        org = await resolve_org(store, args.org)
        with store_errors():
            return org, await store.credit_balance(org.id)

    org, b = run_store(settings, go)
    if args.json:
        print(orjson.dumps(balance_json(b, org), option=orjson.OPT_INDENT_2).decode())
        return 0
    print(
        f"organisation {org.name}: balance {fmt_usd(b.balance_usd)}, reserved {fmt_usd(b.reserved_usd)}, "
        f"available {fmt_usd(b.available_usd)} (credits {'enabled' if org.credits_enabled else 'disabled'})"
    )
    return 0


@command
def cmd_ledger(settings: Settings, args: argparse.Namespace) -> int:
    limit, offset = page(args.limit, args.offset)

    async def go(store: SQLStore) -> Any:
        org = await resolve_org(store, args.org)
        with store_errors():
            return await store.credit_ledger(org.id, limit=limit, offset=offset)

    entries = run_store(settings, go)
    if args.json:
        print(orjson.dumps([ledger_json(e) for e in entries], option=orjson.OPT_INDENT_2).decode())
        return 0
    for e in entries:
        print(
            f"{_when(e.created_at)}  {e.kind:<7} {fmt_usd(e.amount_usd):>14}  {e.request_id or '-'}  {e.note or ''}".rstrip()
        )
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    cr = sub.add_parser("credits", parents=[common], help="an organisation's prepaid credits (USD)")
    actions = cr.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", parents=[common], help="grant credits to an organisation")
    add.add_argument("amount_usd", metavar="AMOUNT_USD", help="US dollars, e.g. 25 or 12.50")
    add.add_argument("--org", required=True, help="organisation name or id")
    add.add_argument("--note", help="why (kept in the ledger)")
    add.set_defaults(fn=cmd_add)

    show = actions.add_parser("show", parents=[common], help="balance, reserved and available credits")
    show.add_argument("--org", required=True, help="organisation name or id")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(fn=cmd_show)

    ledger = actions.add_parser("ledger", parents=[common], help="grants and charges, newest first")
    ledger.add_argument("--org", required=True, help="organisation name or id")
    ledger.add_argument("--limit", help=f"entries to show (1-{MAX_PAGE}, default 100)")
    ledger.add_argument("--offset", help="entries to skip (default 0)")
    ledger.add_argument("--json", action="store_true", help="print JSON")
    ledger.set_defaults(fn=cmd_ledger)
