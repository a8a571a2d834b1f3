"""Two `switchyard serve` replicas of one deployment: one fresh PostgreSQL schema, one fresh Redis prefix and one
`security.master_key` (so a key's hash is the same on both), booted at once as a deployment's replicas would be.
Under CI=true a missing PostgreSQL or Redis fails the test (support/services.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from .gateway import GatewayProcess, default_config, free_port
from .services import drop_prefix, drop_schema, fresh_prefix, fresh_schema, require_postgres, require_redis


@contextmanager
def two_replicas(
    tag: str,
    homes: tuple[Path, Path],
    upstream: str,
    *,
    redis: dict[str, Any] | None = None,
    providers: dict[str, Any] | None = None,
    **extra: Any,
) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """Replicas A and B on `default_config(upstream, …, **extra)` (`providers`, if given, replaces the default ones;
    `redis` adds to the Redis section), in schema `sy_<tag>…` and prefix `sy-<tag>…`, both dropped afterwards.
    Both hold A's first key (`.key`, organisation `test`)."""
    pg, redis_url = require_postgres(), require_redis()
    schema, prefix = fresh_schema(f"sy_{tag}"), fresh_prefix(f"sy-{tag}")
    shared = {
        **extra,
        "database": {"url": pg, "schema": schema},
        "redis": {"url": redis_url, "key_prefix": prefix, **(redis or {})},
        "security": {"master_key": secrets.token_urlsafe(32)},
    }
    a, b = (GatewayProcess(home, default_config(upstream, free_port(), **shared)) for home in homes)
    if providers is not None:
        a.config["providers"] = b.config["providers"] = providers
    a.prepare()  # the organisation and first key, in the shared schema
    b.config_path.write_text(yaml.safe_dump(b.config))
    b.key = a.key
    try:
        with ThreadPoolExecutor(2) as pool:
            for started in [pool.submit(a.start), pool.submit(b.start)]:
                started.result()
        yield a, b
    finally:
        a.stop()
        b.stop()
        drop_schema(schema)
        drop_prefix(redis_url, prefix)
