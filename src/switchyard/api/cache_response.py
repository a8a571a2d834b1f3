"""The response cache on the proxy path: look up before execute, answer a hit, record and save a miss.

Kept out of `proxy.py` so the route only calls three things: `cache_lookup` (after the plan), `send_hit`
(answer at once, streams replayed as SSE), and the ticket's `recording`/`answered` (capture the bytes the
caller actually received, then save them after the answer is out — never delaying or failing it).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from ..observe.cost import Usage
from ..pipeline.caching import (
    CacheEntry,
    CacheHit,
    CacheRequest,
    ResponseCache,
    cache_key,
    parse_cache_request,
)
from ..pipeline.context import RequestContext
from .asgi import JSON, SSE, Message, Send, send_response

log = logging.getLogger("switchyard.cache")

_SSE_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


class CacheTicket:
    """One request's dealings with the cache: its key, the hit (if any) and, when saving, the sent bytes."""

    __slots__ = ("_chunks", "_size", "cache", "hit", "key", "metrics", "request", "response_headers")

    def __init__(
        self, cache: ResponseCache, request: CacheRequest, key: str, metrics: Any, hit: CacheHit | None
    ) -> None:
        self.cache, self.request, self.key, self.metrics, self.hit = cache, request, key, metrics, hit
        self.response_headers: list[tuple[bytes, bytes]] = []
        if request.read:
            self.response_headers.append((b"helicone-cache", b"HIT" if hit else b"MISS"))
            if hit:
                self.response_headers.append((b"helicone-cache-bucket-idx", str(hit.index).encode()))
        self._chunks: list[bytes] | None = [] if request.save else None
        self._size = 0

    def recording(self, send: Send) -> Send:
        """`send` that also keeps the body bytes the caller was sent (only when saving; stops past the limit)."""
        if self._chunks is None:
            return send

        async def record(message: Message) -> None:
            await send(message)
            body = message.get("body") if message["type"] == "http.response.body" else None
            if body and self._chunks is not None:
                self._size += len(body)
                if self._size > self.cache.max_entry_bytes:
                    self._chunks = None  # too big to store: stop holding it in memory
                else:
                    self._chunks.append(body)

        return record

    def answered(self, ctx: RequestContext) -> None:
        """After the answer is out: schedule the save of a clean 200 (a stream that ended without error)."""
        try:
            if self._chunks is None or ctx.status != 200 or ctx.error is not None or not self._chunks:
                return
            entry = CacheEntry(
                body=b"".join(self._chunks),
                content_type=(SSE if ctx.stream else JSON).decode(),
                provider=ctx.provider,
                model=ctx.model,
                usage=dataclasses.asdict(ctx.usage) if ctx.usage is not None else None,
                cost_usd=ctx.cost_usd,
                created_at=int(time.time() * 1000),
            )
            self._chunks = None
            self.cache.save_later(self.request, self.key, entry, self.metrics)
        except Exception:  # saving is best effort: the caller already has the answer
            log.exception("could not schedule a cache save (request %s)", ctx.helicone.request_id)


async def cache_lookup(
    deps: Any, ctx: RequestContext, headers: dict[str, str], body: dict[str, Any], kind: str
) -> CacheTicket | None:
    """None when the request does not use the cache. Raises a 400 GatewayError for a bad cache header."""
    request = parse_cache_request(headers)
    if request is None or ctx.principal is None:
        return None
    cache: ResponseCache = deps.cache
    metrics = getattr(deps, "metrics", None)
    key = cache_key(ctx.principal.org.id, kind, body, request)
    hit = await cache.lookup(request, key, metrics)
    return CacheTicket(cache, request, key, metrics, hit)


async def send_hit(
    send: Send, ctx: RequestContext, ticket: CacheTicket, out_headers: list[tuple[bytes, bytes]]
) -> None:
    """Answer from the cache; the context is filled so the normal log row records the hit and its saving."""
    if ticket.hit is None:
        raise RuntimeError("send_hit called on a cache miss")
    entry = ticket.hit.entry
    ctx.cache_hit = True
    ctx.status = 200
    ctx.provider, ctx.model = entry.provider, entry.model
    ctx.usage = _usage(entry.usage)
    ctx.cost_usd = 0.0
    ctx.cost_saved_usd = entry.cost_usd
    ctx.attempts = []
    ctx.response_body = entry.body
    ctx.mark_first_token()
    headers = [*out_headers, (b"switchyard-overhead-ms", f"{ctx.overhead_ms():.3f}".encode())]
    if entry.provider:
        headers.append((b"helicone-provider", entry.provider.encode()))
    if entry.content_type == SSE.decode():
        headers = [(b"content-type", SSE), *_SSE_HEADERS, *headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body, "more_body": False})
    else:
        await send_response(send, 200, entry.body, headers, content_type=entry.content_type.encode())


def _usage(data: dict[str, Any] | None) -> Usage | None:
    if not data:
        return None
    known = {f.name for f in dataclasses.fields(Usage)}
    return Usage(**{k: v for k, v in data.items() if k in known and isinstance(v, int)})
