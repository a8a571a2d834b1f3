"""Everything a running gateway holds, built in the lifespan and injected; nothing is created at import time."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .api.models import ModelCatalog, build_catalog
from .config import Settings
from .observe.access_log import AccessLog
from .observe.alerts import Alerts
from .observe.metrics import Metrics
from .observe.sink import LogSink
from .observe.spool import Spool
from .observe.stripe_meter import StripeMeter
from .observe.tracing_setup import build_tracing
from .observe.webhooks import Webhooks
from .pipeline.auth import Authenticator
from .pipeline.byok_egress import ByokPolicy
from .pipeline.caching import ResponseCache
from .pipeline.credit_journal import CreditJournal
from .pipeline.credits import Credits
from .pipeline.execute import Executor
from .pipeline.health import Health
from .pipeline.invalidation import Invalidation
from .pipeline.keyring import Keyrings
from .pipeline.limits import Limits
from .pipeline.plan import Planner
from .pipeline.prompts import Prompts
from .pipeline.request_ids import InFlightIds
from .pipeline.responses_state import ResponsesState
from .pipeline.retry import RetryPolicy
from .pipeline.session_pins import SessionPins
from .providers.formats import Translators, available
from .providers.registry import Registry, load_registry
from .providers.transport import Timeouts, Transport
from .security import Secrets, load_or_create_master, master_source, verify_master
from .stores.cache_memory import MemoryCache
from .stores.redis_client import connect
from .stores.responses_items import ResponseItems
from .stores.retention import Retention
from .stores.rollup_journal import Compactor
from .stores.sql import SQLStore
from .stores.sql_prompts import PromptStore
from .stores.sql_webhooks import WebhookStore
from .stores.wiring import open_invalidation_channel, open_limiters


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
    models: ModelCatalog  # GET /v1/models in OpenAI's and Anthropic's shapes
    metrics: Metrics
    health: Health
    keyrings: Keyrings
    credits: Credits
    retry_default: RetryPolicy
    cache: ResponseCache
    limits: Limits
    invalidation: Invalidation  # key changes published to / received from other replicas (Redis)
    request_ids: InFlightIds = field(default_factory=InFlightIds)  # caller-chosen request ids in flight here
    tracing: Any = None  # observe.tracing.Tracing when OpenTelemetry is configured (None: not even imported)
    webhooks: Any = None  # observe.webhooks.Webhooks: per-organisation webhooks and the delivery queue
    # Responses API state of bridged providers (previous_response_id, item_reference); off unless built below
    responses: ResponsesState = field(default_factory=lambda: ResponsesState(None, 0))
    access_log: AccessLog | None = None  # access_log.format json: one line per request on stdout
    prompts: Any = None  # pipeline.prompts.Prompts: managed prompts (prompt_id on chat completions)


def open_store(settings: Settings) -> SQLStore:
    return SQLStore(settings.database_url, schema=settings.database.schema_name)


def shared_pins(settings: Settings, redis: Any) -> Any:
    """Session pins shared by the replicas through Redis, when `redis.url` is set (else None: in process)."""
    if redis is None:
        return None
    from .stores.pins_redis import RedisPins  # redis-py only with `redis.url`

    return RedisPins(redis, settings.redis.key_prefix, settings.redis.timeout_ms)


def open_cache(settings: Settings, redis: Any = None) -> ResponseCache:
    """Redis when `redis.url` is set (shared by replicas), else an in-process LRU."""
    c, r = settings.cache, settings.redis
    if r.url:
        from .stores.cache_redis import RedisCache  # redis-py only with `redis.url`

        client = redis if redis is not None else connect(r)
        backend: Any = RedisCache(client, r.key_prefix, r.timeout_ms, owns_client=redis is None)
    else:
        backend = MemoryCache(c.max_entries, c.max_bytes)
    return ResponseCache(backend, max_entry_bytes=c.max_entry_bytes)


def provider_timeouts(settings: Settings) -> dict[str, Timeouts]:
    """Providers with their own timeouts in the configuration (the rest use `upstream`)."""
    up = settings.upstream
    out = {}
    for pid, p in settings.providers.items():
        if p.connect_timeout or p.first_byte_timeout or p.total_timeout:
            out[pid] = Timeouts(
                p.connect_timeout or up.connect_timeout,
                p.first_byte_timeout or up.first_byte_timeout,
                p.total_timeout or up.total_timeout,
            )
    return out


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    providers: Mapping[str, Any] | None = None,
    transport: Transport | None = None,
) -> AsyncIterator[Deps]:
    """`transport`: the upstream client to use instead of one built from `upstream` (in-process tests inject a fake
    one; it is started and closed here like the real one)."""
    registry = load_registry(settings, env)
    store = open_store(settings)
    await store.migrate()
    secrets = Secrets(load_or_create_master(settings.security.master_key, settings.home_path))
    # MasterKeyError: this worker's master key is not the database's (`serve` has said so before starting it)
    await verify_master(store, secrets, master_source(settings.security.master_key, settings.home_path))
    up = settings.upstream
    if transport is None:
        transport = Transport(
            pool_size=up.pool_size,
            timeouts=Timeouts(up.connect_timeout, up.first_byte_timeout, up.total_timeout),
            max_connections_per_host=up.max_connections_per_host,
            max_response_bytes=up.max_response_bytes,
            idle_timeout=up.idle_timeout,
            env=env,
        )
    auth = Authenticator(store, secrets)
    log = settings.log
    sink = LogSink(
        store,
        Spool(settings.spool_path),
        queue_size=log.queue_size,
        memory_records=log.memory_records,
        batch_size=log.batch_size,
        flush_interval=log.flush_interval_ms / 1000,
        insert_delay=log.insert_delay_ms / 1000,
        write_ahead=log.write_ahead,
    )
    providers = providers or Translators()  # each format's translator made on first use
    await transport.start()
    await auth.start()
    await sink.start()
    health = Health(settings.routing.breaker)
    metrics = Metrics.build(settings, registry)  # labels bounded by the registry; all workers' files (serve)
    metrics.bind_health(health)
    metrics.bind_sink(sink)
    keyrings = Keyrings(store, secrets, ByokPolicy(settings.security.byok_endpoints, registry))
    auth.on_change(keyrings.invalidate)
    credits = Credits(
        store,
        metrics,
        sweep_after_seconds=settings.credits.reservation_ttl_seconds,
        journal=CreditJournal(settings.spool_path / "credits"),
    )
    await credits.start()
    executor = Executor(
        transport,
        providers,
        health=health,
        metrics=metrics,
        credits=credits,
        provider_timeouts=provider_timeouts(settings),
    )
    redis = connect(settings.redis) if settings.redis.url else None  # one pool for the cache and the limits
    executor.pins = SessionPins(settings.routing.affinity, shared_pins(settings, redis))  # session_pins.py
    deps = Deps(
        settings=settings,
        registry=registry,
        planner=Planner(registry, available(providers), settings.models.aliases),
        store=store,
        secrets=secrets,
        auth=auth,
        transport=transport,
        executor=executor,
        sink=sink,
        models=build_catalog(registry, settings.models.aliases),
        metrics=metrics,
        health=health,
        cache=open_cache(settings, redis),
        keyrings=keyrings,
        credits=credits,
        retry_default=RetryPolicy.from_settings(settings.routing.retries),
        limits=Limits.build(settings, open_limiters(settings, redis), metrics=metrics),
        invalidation=Invalidation(
            open_invalidation_channel(settings.redis), auth.invalidate, metrics=metrics
        ),
    )
    deps.access_log = AccessLog.build(settings)
    deps.prompts = Prompts(PromptStore(store), log_inputs=settings.log.store_bodies)
    await deps.limits.start()
    await metrics.start()
    await deps.invalidation.start()
    deps.responses = ResponsesState(ResponseItems(store.engine), settings.responses.retention_days)
    await deps.responses.start()
    retention = Retention(store, settings.log.retention_days)  # old rows and rollups go in the background
    compactor = Compactor(store)  # the writer's rollup journal into rollups and sessions, every second
    await retention.start()
    await compactor.start()
    deps.tracing = build_tracing(settings, os.environ if env is None else env)
    deps.webhooks = Webhooks(WebhookStore(store), secrets, transport)
    sink.on_stored = deps.webhooks.offer  # messages are queued from stored log batches, never from a request
    await deps.webhooks.start()
    alerts = Alerts(
        deps.webhooks.store, store, interval=settings.alerts.interval_seconds, on_queued=deps.webhooks.kick
    )
    await alerts.start()
    meter = StripeMeter.build(store, deps.webhooks.store.lease, settings)  # None unless billing.stripe is set
    if meter is not None:
        await meter.start()
    try:
        yield deps
    finally:
        if meter is not None:
            await meter.close()
        await alerts.close()
        await compactor.close()
        await retention.close()
        await deps.invalidation.close()
        await deps.limits.close()  # pending settlements land first
        await deps.cache.close()
        await executor.pins.close()  # shared pin writes in flight land before the pool closes
        if redis is not None:
            with contextlib.suppress(Exception):
                await redis.aclose()
        await credits.drain()  # settlements of the last answers land before the store closes
        await sink.close()
        await deps.webhooks.close()  # after the sink: the last stored batches' messages are queued
        if deps.tracing is not None:
            await asyncio.to_thread(deps.tracing.shutdown)  # exports the spans still queued
        await deps.responses.close()  # kept responses still queued land before the store closes
        await auth.close()
        await transport.close()
        await store.close()
        await metrics.close()  # this worker's last totals for the other workers' scrapes
        if deps.access_log is not None:
            deps.access_log.close()
