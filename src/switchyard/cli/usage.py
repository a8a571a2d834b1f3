"""`switchyard usage --org NAME --by customer [--start … --end …]`: usage per Stripe customer and period."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from ..admin.usage import usage_report
from ..config import Settings
from ..stores.sql import SQLStore
from .runner import command, fmt_usd, run_store


@command
def cmd_usage(settings: Settings, args: argparse.Namespace) -> int:
    async def go(store: SQLStore) -> Any:
        return await usage_report(store, args.org, args.by, args.start, args.end)

    report = run_store(settings, go)
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"usage of {report['org']} by customer, {report['start']} to {report['end']}")
    rows = [("CUSTOMER", "REQUESTS", "PROMPT_TOKENS", "COMPLETION_TOKENS", "COST_USD")] + [
        (
            d["customer"],
            str(d["requests"]),
            str(d["prompt_tokens"]),
            str(d["completion_tokens"]),
            fmt_usd(d["cost_usd"]),
        )
        for d in report["data"]
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if not report["data"]:
        print("(no requests with a Helicone-Stripe-Customer-Id header in this period)")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "usage", parents=[common], help="usage per Stripe customer (Helicone-Stripe-Customer-Id)"
    )
    p.add_argument("--org", required=True, help="organisation name or id")
    p.add_argument("--by", default="customer", choices=["customer"], help="group by (customer)")
    p.add_argument("--start", help="ISO 8601 start (default: 30 days before --end)")
    p.add_argument("--end", help="ISO 8601 end, excluded (default: now)")
    p.add_argument("--json", action="store_true", help="print the admin API's JSON")
    p.set_defaults(fn=cmd_usage)
