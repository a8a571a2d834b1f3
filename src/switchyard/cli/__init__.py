"""Command line: serve, migrate, orgs, keys, provider-keys, credits.

Every subcommand takes --config PATH (or $SWITCHYARD_CONFIG); embedded state lives in $SWITCHYARD_HOME
(default ./.switchyard). The management commands go straight to the store, through the same validation and
operations as the admin API (the `admin` package); running gateways drop their key caches at
once when `redis.url` is set (the change is published, `pipeline/invalidation.py`), else within a second.
"""

from __future__ import annotations

import argparse
import sys

from ..config import ConfigError, load_settings
from . import accounts, credits, demo_data, prompts, provider_keys, server, usage


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", help="YAML config file (default: $SWITCHYARD_CONFIG; none = embedded defaults)"
    )
    p = argparse.ArgumentParser(
        prog="switchyard",
        description="Switchyard: a self-hostable, Helicone-compatible AI gateway.",
        parents=[common],
    )
    sub = p.add_subparsers(dest="command", required=True)
    for module in (server, accounts, provider_keys, credits, demo_data, prompts, usage):
        module.register(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return args.fn(settings, args)


__all__ = ["build_parser", "main"]
