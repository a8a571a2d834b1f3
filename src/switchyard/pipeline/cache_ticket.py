"""The response cache step of a request: look up before execute, answer a hit, keep and save a miss's answer.

`handle.py` calls `lookup` after the limits; a hit is answered at once (`hit_reply`, streams replayed as SSE);
otherwise the ticket keeps the bytes the caller is sent (`keep`) and `answered` schedules the save of a clean
200 after the answer is out — never delaying or failing it. The key and the policy are `caching.py`'s.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from ..observe.cost import Usage
from .caching import CacheEntry, CacheHit, CacheRequest, ResponseCache, cache_key, parse_cache_request
from .context import RequestContext
from .exchange import Exchange
from .reply import JSON, SSE, Reply, answered

log = logging.getLogger("switchyard.cache")
_SSE = SSE.decode()


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

    def keep(self, data: bytes) -> None:
        """Bytes the caller is sent (only when saving; stops holding them past the entry size limit)."""
        if self._chunks is None or not data:
            return
        self._size += len(data)
        if self._size > self.cache.max_entry_bytes:
            self._chunks = None  # too big to store: stop holding it in memory
        else:
            self._chunks.append(data)

    def answered(self, ctx: RequestContext) -> None:
        """After the answer: schedule the save of a clean 200 (a stream that ended without error)."""
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


async def lookup(deps: Any, x: Exchange) -> CacheTicket | None:
    """None when the request does not use the cache. Raises a 400 GatewayError for a bad cache header."""
    request = parse_cache_request(x.headers)
    ctx = x.ctx
    if request is None or ctx.principal is None or x.surface is None:
        return None
    cache: ResponseCache = deps.cache
    metrics = getattr(deps, "metrics", None)
    key = cache_key(ctx.principal.org.id, x.surface.kind, x.body, request)
    hit = await cache.lookup(request, key, metrics)
    ticket = CacheTicket(cache, request, key, metrics, hit)
    x.out_headers += ticket.response_headers
    return ticket


def hit_reply(x: Exchange, hit: CacheHit) -> Reply:
    """The answer from the cache; the context is filled so the normal log row records the hit and its saving."""
    entry = hit.entry
    ctx = x.ctx
    ctx.cache_hit = True
    ctx.provider, ctx.model = entry.provider, entry.model
    ctx.usage = _usage(entry.usage)
    ctx.cost_usd = 0.0
    ctx.cost_saved_usd = entry.cost_usd
    ctx.attempts = []
    ctx.response_body = entry.body
    ctx.mark_first_token()
    return answered(x, entry.body, SSE if entry.content_type == _SSE else entry.content_type.encode())


_USAGE_FIELDS = frozenset(f.name for f in dataclasses.fields(Usage))


def _usage(data: dict[str, Any] | None) -> Usage | None:
    if not data:
        return None
    return Usage(**{k: v for k, v in data.items() if k in _USAGE_FIELDS and isinstance(v, int)})
