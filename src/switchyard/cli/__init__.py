"""Command line: serve, migrate, orgs, keys, provider-keys, credits.

Every subcommand takes --config PATH (or $SWITCHYARD_CONFIG); embedded state lives in $SWITCHYARD_HOME
(default ./.switchyard). The management commands go straight to the store, through the same validation and
operations as the admin API (the `admin` package); running gateways drop their key caches at
once when `redis.url` is set (the change is published, `pipeline/invalidation.py`), else within a second.

Only the module of the command being run is imported (`COMMANDS`): a `keys create` does not load the server, the
dashboard's demo data or the provider registry, which test suites that call the CLI hundreds of times pay for
each time. `switchyard --help` (or an unknown command) builds the whole parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from ..config import ConfigError, load_settings

# command → the module whose `register` adds it (in help order); tests/unit/test_cli_lazy.py checks it is complete
COMMANDS = {
    "serve": "server",
    "migrate": "server",
    "orgs": "accounts",
    "keys": "accounts",
    "provider-keys": "provider_keys",
    "credits": "credits",
    "demo-data": "demo_data",
    "prompts": "prompts",
    "usage": "usage",
}


def _modules(names: Sequence[str]) -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{n}") for n in dict.fromkeys(names)]


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv` (the first word that is not a top-level option or its value)."""
    it = iter(argv)
    for arg in it:
        if arg == "--config":
            next(it, None)
        elif not arg.startswith("-"):
            return arg
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command` only (its module's subcommands), or for every command when None or unknown."""
    module = COMMANDS.get(command or "")
    modules = _modules([module] if module else list(COMMANDS.values()))
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
    for m in modules:
        m.register(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(command_of(argv)).parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return args.fn(settings, args)


__all__ = ["build_parser", "main"]
