"""What every subcommand shares: a store opened (and migrated) for one command, the admin operations' errors
turned into `error: ...` lines, and secrets read from the environment or stdin — never from argv, where shell
history and `ps` would keep them."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from ..config import Settings
from ..errors import GatewayError
from ..security import MasterKeyError, Secrets, load_or_create_master, master_source, verify_master
from ..stores.sql import SQLStore


class CommandError(Exception):
    """A command failed in a way the user can fix; the message is printed as `error: ...`."""


def run_store(settings: Settings, fn: Callable[[SQLStore], Awaitable[Any]], *, publish: bool = False) -> Any:
    """Open the store (not through `deps`, whose imports — every provider, Redis — would slow each command).

    `publish`: `fn` changes keys, provider keys or organisations; once it succeeded, tell running gateways
    through Redis (when `redis.url` is set) so they drop their caches at once instead of at the next poll."""

    async def go() -> Any:
        store = SQLStore(settings.database_url, schema=settings.database.schema_name)
        try:
            await store.migrate()
            result = await fn(store)
        finally:
            await store.close()
        if publish and settings.redis.url:
            # imports Redis only when there is something to send
            from ..stores.invalidation_redis import notify

            await notify(settings.redis)
        return result

    return asyncio.run(go())


def command(fn: Callable[[Settings, Any], int]) -> Callable[[Settings, Any], int]:
    """Print the admin operations' (and the command's own) errors as one line and exit 1."""

    def wrapped(settings: Settings, args: Any) -> int:
        try:
            return fn(settings, args)
        except GatewayError as e:
            print(f"error: {e.message}", file=sys.stderr)
            return 1
        except CommandError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1

    wrapped.__name__ = fn.__name__
    return wrapped


async def secrets_for(settings: Settings, store: SQLStore) -> Secrets:
    """The master secret's keys, once proven to be the ones the store's secrets were made with: a command run
    with another master key would create gateway keys nobody can use and provider keys no gateway can read."""
    configured, home = settings.security.master_key, settings.home_path
    try:
        secrets = Secrets(load_or_create_master(configured, home))
        await verify_master(store, secrets, master_source(configured, home))
    except MasterKeyError as e:
        raise CommandError(str(e)) from None
    return secrets


def env_secret(var: str, what: str) -> str:
    value = os.environ.get(var, "").strip()
    if not value:
        raise CommandError(f"{what}: environment variable {var} is not set or empty")
    return value


def stdin_secret(prompt: str) -> str:
    """One secret from stdin: prompted without echo on a terminal, else everything piped in (trimmed)."""
    value = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.read()
    value = value.strip()
    if not value:
        raise CommandError("no key given on stdin")
    return value


def fmt_usd(v: float) -> str:
    """`$12.5`, `-$0.000125`: micro-dollar precision without trailing zeros."""
    text = f"{abs(v):,.6f}".rstrip("0").rstrip(".")
    return f"{'-' if v < 0 and text != '0' else ''}${text}"
