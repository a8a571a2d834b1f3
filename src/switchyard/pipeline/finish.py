"""The end of every proxied request, whatever its outcome: the one place the limits are settled with the real
cost, the caller's request id is released, the answer is offered to the cache and the Responses store, and the
request record is made and queued — plus its trace, metrics and access-log line. Never raises into the answer,
never waits: everything slow is queued or scheduled."""

from __future__ import annotations

from typing import Any

from .exchange import Exchange
from .record import build_record


def finish(deps: Any, x: Exchange) -> None:
    ctx = x.ctx
    if x.admission is not None:
        deps.limits.finish(x.admission, ctx)  # real cost and tokens; never delays the answer
    ticket = x.ticket
    if ctx.principal is not None:
        org_id = ctx.principal.org.id
        if not ctx.cache_hit:
            if ticket is not None:
                ticket.answered(ctx)  # schedules the save of a clean 200
            if ctx.status == 200 and x.surface is not None:
                deps.responses.keep(org_id, x.surface)  # a bridged Responses answer, queued to be kept
        deps.request_ids.release(org_id, ctx.helicone)
        log = deps.settings.log
        deps.sink.submit(build_record(ctx, store_bodies=log.store_bodies, max_body_bytes=log.max_body_bytes))
    if deps.tracing is not None:  # spans from the finished request; export is batched on another thread
        deps.tracing.record(ctx, x.headers)
    cache = "hit" if ctx.cache_hit else "off" if ticket is None else "miss"
    deps.metrics.finished(ctx, cache)
    if deps.access_log is not None:
        deps.access_log.write(ctx, cache)
