"""Everything a running gateway holds, built in the lifespan and injected; nothing is created at import time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from .api.models import models_payload
from .config import Settings
from .observe.sink import LogSink
from .observe.spool import Spool
from .pipeline.auth import Authenticator
from .pipeline.execute import Executor
from .pipeline.plan import Planner
from .providers.formats import build_providers
from .providers.registry import Registry, load_registry
from .providers.transport import Timeouts, Transport
from .security import Secrets, load_or_create_master
from .stores.sql import SQLStore


@dataclass
class Deps:
    settings: Settings
    registry: Registry
    planner: Planner
    store: SQLStore
    secrets: Secrets
    auth: Authenticator
    transport: Transport
    executor: Executor
    sink: LogSink
    models_payload: bytes


def open_store(settings: Settings) -> SQLStore:
    return SQLStore(settings.database_url, schema=settings.database.schema_name)


@contextlib.asynccontextmanager
async def running(settings: Settings, *, env: Mapping[str, str] | None = None,
                  providers: Mapping[str, Any] | None = None) -> AsyncIterator[Deps]:
    registry = load_registry(settings, env)
    store = open_store(settings)
    await store.migrate()
    secrets = Secrets(load_or_create_master(settings.security.master_key, settings.home_path))
    up = settings.upstream
    transport = Transport(pool_size=up.pool_size, timeouts=Timeouts(up.connect_timeout, up.first_byte_timeout, up.total_timeout))
    auth = Authenticator(store, secrets)
    log = settings.log
    sink = LogSink(store, Spool(settings.spool_path), queue_size=log.queue_size, batch_size=log.batch_size,
                   flush_interval=log.flush_interval_ms / 1000)
    providers = providers or build_providers()
    await transport.start()
    await auth.start()
    await sink.start()
    deps = Deps(
        settings=settings, registry=registry, planner=Planner(registry, frozenset(providers)), store=store,
        secrets=secrets, auth=auth, transport=transport, executor=Executor(transport, providers), sink=sink,
        models_payload=models_payload(registry),
    )
    try:
        yield deps
    finally:
        await sink.close()
        await auth.close()
        await transport.close()
        await store.close()
