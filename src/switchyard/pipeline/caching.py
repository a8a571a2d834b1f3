"""Helicone's response cache: which requests use it (headers), under which key, and the read/save policy.

Semantics follow Helicone (reference §6.2): `Helicone-Cache-Enabled: true` reads and saves,
`Helicone-Cache-Read` / `Helicone-Cache-Save` enable one direction, `Cache-Control` sets the TTL, a bucket of
up to 20 slots must fill before hits start and a hit returns a random filled slot, a seed namespaces the key,
and `Helicone-Cache-Ignore-Keys` leaves top-level body keys out of it (several keys work: Helicone #5768).

Deliberate departures, because they make the cache safer or its errors clearer:
- The key covers the caller's organisation, not its API key: colleagues sharing an organisation share hits
  (that is what a team cache is for), rotating a key does not empty the cache, and one organisation can never
  read another's answers.
- A bucket size outside 1..20, or a `Cache-Control` age that is not a positive whole number, is a 400 naming
  the header (Helicone answers 500 for a bucket size above 20 and ignores other bad values).
- Streams are cached (Helicone's worker did not): the exact SSE bytes of a stream that finished cleanly.

Backend failures never fail a request: a read that fails is a miss, a save that fails is skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ..errors import bad_request
from ..stores.base import StoreUnavailable

log = logging.getLogger("switchyard.cache")

MAX_BUCKET = 20
DEFAULT_TTL_S = 7 * 24 * 3600
MAX_TTL_S = 365 * 24 * 3600
_ECHO = 60  # characters of a bad header value quoted back in the error


class CacheBackend(Protocol):
    """Where entries live. Slots are independent keys; a failure raises `StoreUnavailable`."""

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set(self, key: str, value: bytes, ttl_ms: int) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CacheRequest:
    """What one request asked of the cache (parsed from its headers)."""

    read: bool
    save: bool
    ttl_s: int = DEFAULT_TTL_S
    bucket_size: int = 1
    seed: str | None = None
    ignore_keys: frozenset[str] = frozenset()


def _true(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"


def _bad(header: str, value: str, rule: str) -> Exception:
    shown = value if len(value) <= _ECHO else value[:_ECHO] + "…"
    return bad_request(f"{header} {rule} (got {shown!r}).", code="invalid_cache_header")


def _bucket_size(value: str | None) -> int:
    if value is None or not value.strip():
        return 1
    v = value.strip()
    if not v.isdigit() or not 1 <= int(v) <= MAX_BUCKET:
        raise _bad("Helicone-Cache-Bucket-Max-Size", value, f"must be a whole number from 1 to {MAX_BUCKET}")
    return int(v)


def _ttl(value: str | None) -> int:
    """`s-maxage` wins over `max-age` (shared caches honour it first); other directives are ignored."""
    ages: dict[str, int] = {}
    for directive in (value or "").split(","):
        name, _, arg = directive.partition("=")
        name = name.strip().lower()
        if name not in ("max-age", "s-maxage"):
            continue
        arg = arg.strip().strip('"')
        if not arg.isdigit() or int(arg) == 0:
            raise _bad(
                "Cache-Control", value or "", f"{name} must be a whole number of seconds greater than 0"
            )
        ages[name] = int(arg)
    age = ages.get("s-maxage", ages.get("max-age", DEFAULT_TTL_S))
    return min(age, MAX_TTL_S)


_SWITCHES = frozenset({"helicone-cache-enabled", "helicone-cache-read", "helicone-cache-save"})
_OPTIONS = frozenset(
    {"cache-control", "helicone-cache-bucket-max-size", "helicone-cache-seed", "helicone-cache-ignore-keys"}
)
_ENABLED = CacheRequest(read=True, save=True)  # `Helicone-Cache-Enabled: true` and every default


def parse_cache_request(headers: Mapping[str, str]) -> CacheRequest | None:
    """Caller headers (lowercase names) → the cache request, or None when caching is off for this request.
    Raises a 400 GatewayError naming the header for a bad bucket size or age; only when caching is on, so
    an ordinary `Cache-Control` on an uncached request is never an error."""
    if _SWITCHES.isdisjoint(headers):  # every request asks: one C-level pass over the header names
        return None
    enabled = _true(headers.get("helicone-cache-enabled"))
    if enabled and _OPTIONS.isdisjoint(headers):
        return _ENABLED
    read = enabled or _true(headers.get("helicone-cache-read"))
    save = enabled or _true(headers.get("helicone-cache-save"))
    if not (read or save):
        return None
    ignore = headers.get("helicone-cache-ignore-keys") or ""
    return CacheRequest(
        read=read,
        save=save,
        ttl_s=_ttl(headers.get("cache-control")),
        bucket_size=_bucket_size(headers.get("helicone-cache-bucket-max-size")),
        seed=headers.get("helicone-cache-seed") or None,
        ignore_keys=frozenset(k.strip() for k in ignore.split(",") if k.strip()),
    )


def cache_key(org_id: str, kind: str, body: Mapping[str, Any], req: CacheRequest) -> str:
    """sha256 over (organisation, route kind, seed) and the body with ignored keys dropped, keys sorted so
    that field order never splits entries. `stream` is a body field, so streams and answers are apart.

    The parsed body, not the caller's bytes: key order, spacing and escapes must not split entries (Helicone hashes
    the raw text). That costs one sorted serialisation, which is small next to the hash itself (ARCHITECTURE.md,
    step 4: 0.19 vs 0.47 µs for an 80-byte body, 8.5 vs 88 µs at 100 kB). sha256, not a faster non-cryptographic
    hash: the organisation is inside the hashed text, so a crafted collision must stay out of reach."""
    if req.ignore_keys:
        body = {k: v for k, v in body.items() if k not in req.ignore_keys}
    h = hashlib.sha256(orjson.dumps([org_id, kind, req.seed]))
    h.update(b"\n")
    h.update(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()


def slot_keys(key: str, bucket_size: int) -> list[str]:
    return [f"{key}:{i}" for i in range(bucket_size)]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A stored answer: the exact bytes the caller received plus what the log row of a hit needs."""

    body: bytes
    content_type: str
    provider: str | None = None
    model: str | None = None
    usage: dict[str, int] | None = None
    cost_usd: float | None = None
    created_at: int = 0  # epoch ms of the original answer

    def encode(self) -> bytes:
        """One JSON metadata line, a newline, then the body verbatim (no base64: SSE replays byte for byte)."""
        meta = {
            "content_type": self.content_type,
            "provider": self.provider,
            "model": self.model,
            "usage": self.usage,
            "cost_usd": self.cost_usd,
            "created_at": self.created_at,
        }
        return orjson.dumps(meta) + b"\n" + self.body

    @classmethod
    def decode(cls, data: bytes) -> CacheEntry | None:
        """None for anything unreadable (another version's format, a truncated value): treated as a miss."""
        head, sep, body = data.partition(b"\n")
        if not sep:
            return None
        try:
            meta = orjson.loads(head)
            usage = meta.get("usage")
            return cls(
                body=body,
                content_type=str(meta["content_type"]),
                provider=meta.get("provider"),
                model=meta.get("model"),
                usage=usage if isinstance(usage, dict) else None,
                cost_usd=meta.get("cost_usd"),
                created_at=int(meta.get("created_at") or 0),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None


@dataclass(frozen=True, slots=True)
class CacheHit:
    entry: CacheEntry
    index: int  # the bucket slot served (Helicone-Cache-Bucket-Idx)


def _count(metrics: Any, method: str, arg: str) -> None:
    fn = getattr(metrics, method, None) if metrics is not None else None
    if fn is not None:
        fn(arg)


class ResponseCache:
    """The cache facade the proxy uses: bucket-aware lookup and save over one backend, failures absorbed."""

    def __init__(
        self, backend: CacheBackend, *, max_entry_bytes: int, rng: random.Random | None = None
    ) -> None:
        self.backend = backend
        self.max_entry_bytes = max_entry_bytes
        self._rng = rng or random.Random()
        self._pending: set[asyncio.Task[bool]] = set()

    async def _get(self, keys: list[str], metrics: Any) -> list[bytes | None] | None:
        try:
            return await self.backend.get_many(keys)
        except StoreUnavailable as e:
            log.debug("cache read failed, treated as a miss: %s", e)
            _count(metrics, "redis_error", "cache_get")
            _count(metrics, "cache", "error")
            return None

    async def lookup(self, req: CacheRequest, key: str, metrics: Any = None) -> CacheHit | None:
        """A hit only once every slot of the bucket is filled (Helicone's rule); then a random slot."""
        if not req.read:
            return None
        values = await self._get(slot_keys(key, req.bucket_size), metrics)
        if values is None:  # the backend failed: served as a miss, counted as an error
            return None
        hit = None
        if all(v is not None for v in values):
            index = self._rng.randrange(len(values))
            entry = CacheEntry.decode(values[index])  # type: ignore[arg-type]
            hit = CacheHit(entry, index) if entry is not None else None
        _count(metrics, "cache", "hit" if hit else "miss")
        return hit

    async def save(self, req: CacheRequest, key: str, entry: CacheEntry, metrics: Any = None) -> bool:
        """Store into the first empty slot; a full bucket, an oversized entry or a failing backend stores
        nothing. Returns whether the entry was stored."""
        if not req.save:
            return False
        data = entry.encode()
        if len(data) > self.max_entry_bytes:
            return False
        slots = slot_keys(key, req.bucket_size)
        values = await self._get(slots, metrics)
        if values is None:
            return False
        free = next((i for i, v in enumerate(values) if v is None), None)
        if free is None:
            return False
        try:
            await self.backend.set(slots[free], data, req.ttl_s * 1000)
        except StoreUnavailable as e:
            log.debug("cache save skipped: %s", e)
            _count(metrics, "redis_error", "cache_set")
            _count(metrics, "cache", "error")
            return False
        _count(metrics, "cache", "store")
        return True

    def save_later(self, req: CacheRequest, key: str, entry: CacheEntry, metrics: Any = None) -> None:
        """Schedule the save so the caller's answer never waits on it; `close` lets pending saves finish."""
        task = asyncio.get_running_loop().create_task(self._save_quietly(req, key, entry, metrics))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _save_quietly(self, req: CacheRequest, key: str, entry: CacheEntry, metrics: Any) -> bool:
        try:
            return await self.save(req, key, entry, metrics)
        except Exception:  # a bug must not surface as an unretrieved task exception per request
            log.exception("cache save failed")
            return False

    async def close(self, timeout: float = 5.0) -> None:
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout)
        await self.backend.close()
