"""Caller authentication: find the gateway key in the request, look its hash up in an in-process cache.

Accepted forms: `Authorization: Bearer <key>`, `Helicone-Auth: Bearer <key>`, `x-api-key: <key>`,
`x-api-key: Bearer <key>`, and the doubled `Authorization: Bearer Bearer <key>` sent by Anthropic SDK 2.x
when given a `Bearer `-prefixed key. No database query sits on the hot path: hits are served from memory,
and a background poller (every second) drops the cache when keys are created or revoked anywhere (the store's
revision counter is bumped by the gateway and, for edits made directly in SQL, by database triggers).

What an unknown key costs, so that a flood of made-up keys cannot become a flood of database queries nor push
valid keys out of the cache:
- a string that cannot be a gateway key (`security.looks_like_gateway_key`) is refused without a lookup;
- a well-formed unknown key is looked up once, then remembered as unknown for `_NEGATIVE_TTL` in a cache of
  its own (bounded, oldest out first), separate from the valid keys;
- concurrent requests with the same uncached key share one lookup (single flight), and at most
  `max_lookups` lookups of distinct keys run at once, so a flood queues here instead of emptying the
  database pool;
- valid keys live in a least-recently-used cache: when it is full the coldest entry goes, never the whole
  cache, so keys in use stay cached.
A lookup that was in flight when the caches were dropped answers its callers but is not cached: it may have
read the key just before a revocation committed.

Grants: the dashboard's prompt playground runs a request through the real pipeline in this process as the signed-in
viewer, who has no key in hand (a session holds only a key's hash, an admin none). `grant(principal)` gives a
random one-time token (`sy-grant-…`, 256 bits) that authenticates as that principal once, within `GRANT_TTL`
seconds, in this process only; it is checked on the miss path, never stored, never cached as a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..errors import GatewayError
from ..security import Secrets, looks_like_gateway_key
from ..stores.base import GatewayKey, Org, StoreUnavailable

log = logging.getLogger("switchyard.auth")

_NEGATIVE_TTL = 5.0
_POSITIVE_TTL = 300.0
_MAX_KEYS = 50_000  # valid keys remembered
_MAX_UNKNOWN = 10_000  # unknown keys remembered (a separate table: they cannot evict valid ones)
_MAX_LOOKUPS = 8  # store lookups of distinct uncached keys running at once
GRANT_PREFIX = "sy-grant-"
GRANT_TTL = 60.0
_MAX_GRANTS = 1_000


@dataclass(frozen=True, slots=True)
class Principal:
    key: GatewayKey
    org: Org


def extract_key(headers: dict[str, str]) -> str | None:
    for name in ("helicone-auth", "authorization", "x-api-key", "api-key"):
        value = headers.get(name)
        if value:
            v = value.strip()
            while v[:6].lower() == "bearer" and (len(v) == 6 or v[6] in " \t"):
                v = v[6:].lstrip()
            if v:
                return v
    return None


class Authenticator:
    def __init__(
        self,
        store: Any,
        secrets: Secrets,
        poll_interval: float = 1.0,
        *,
        max_keys: int = _MAX_KEYS,
        max_unknown: int = _MAX_UNKNOWN,
        max_lookups: int = _MAX_LOOKUPS,
        clock: Any = time.monotonic,
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._known: OrderedDict[str, tuple[Principal, float]] = OrderedDict()  # least recently used first
        self._unknown: OrderedDict[str, float] = OrderedDict()  # oldest first
        self._max_keys = max_keys
        self._max_unknown = max_unknown
        self._lookups = asyncio.Semaphore(max_lookups)
        self._inflight: dict[str, asyncio.Future[Principal | None]] = {}
        self._generation = 0  # bumped by invalidate(): a lookup older than that is not cached
        self._clock = clock
        self._orgs: dict[str, Org] = {}
        self._poll_interval = poll_interval
        self._revision: tuple[int, ...] | None = None
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Any] = []
        self._grants: dict[str, tuple[Principal, float]] = {}  # token digest → principal, expiry

    def grant(self, principal: Principal) -> str:
        """A one-time token that authenticates as `principal` in this process within GRANT_TTL seconds."""
        now = self._clock()
        for d in [d for d, (_, until) in self._grants.items() if until <= now]:
            del self._grants[d]
        if len(self._grants) >= _MAX_GRANTS:
            raise GatewayError(503, "Too many playground runs at once; try again shortly.", code="overloaded")
        token = GRANT_PREFIX + secrets.token_urlsafe(32)
        self._grants[self._secrets.hash_key(token)] = (principal, now + GRANT_TTL)
        return token

    def on_change(self, callback: Any) -> None:
        """Call `callback()` whenever keys, provider keys or organisations change (in this or another process)."""
        self._listeners.append(callback)

    async def start(self) -> None:
        with contextlib.suppress(StoreUnavailable, OSError):
            self._revision = await self._store.keys_revision()
        self._task = asyncio.create_task(self._poll(), name="switchyard-key-revision")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def invalidate(self) -> None:
        self._generation += 1
        self._known.clear()
        self._unknown.clear()
        self._orgs.clear()
        for callback in self._listeners:
            callback()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                rev = await self._store.keys_revision()
            except Exception as e:  # the store being down must not kill the poller; it is retried next tick
                log.debug("key revision poll failed: %s", e)
                continue
            if rev != self._revision:
                self._revision = rev
                self.invalidate()

    async def authenticate(self, headers: dict[str, str]) -> Principal:
        key = extract_key(headers)
        if key is None:
            raise GatewayError(
                401,
                "Missing gateway key. Send it as 'Authorization: Bearer <key>' (or Helicone-Auth / x-api-key).",
                code="missing_api_key",
            )
        digest = self._secrets.hash_key(key)
        hit = self._known.get(digest)  # the hot path: a key in use, served from memory
        if hit is not None and hit[1] > self._clock():
            self._known.move_to_end(digest)
            return hit[0]
        principal = await self._principal(key, digest)
        if principal is None:
            raise GatewayError(401, "Invalid gateway key.", code="invalid_api_key")
        return principal

    async def _principal(self, key: str, digest: str) -> Principal | None:
        """A key not (or no longer) in the valid-key cache: None for an unknown or revoked key."""
        if key.startswith(GRANT_PREFIX):  # the dashboard playground's one-time token (see grant)
            grant = self._grants.pop(digest, None)
            return grant[0] if grant is not None and grant[1] > self._clock() else None
        if not looks_like_gateway_key(key):
            return None  # cannot be a gateway key: no lookup, and nothing to remember
        now = self._clock()
        self._known.pop(digest, None)  # expired, if there at all
        until = self._unknown.get(digest)
        if until is not None:
            if until > now:
                return None
            del self._unknown[digest]
        pending = self._inflight.get(digest)
        if pending is None:  # one lookup per key however many requests carry it at once
            pending = self._inflight[digest] = asyncio.ensure_future(self._resolve(digest))
            pending.add_done_callback(_retrieved)
        # shielded: a caller that hangs up does not cancel the lookup the others are waiting for
        return await asyncio.shield(pending)

    async def _resolve(self, digest: str) -> Principal | None:
        generation = self._generation
        try:
            async with self._lookups:
                principal = await self._lookup(digest, generation)
            if generation == self._generation:  # not invalidated meanwhile: the answer is current
                self._remember(digest, principal)
            return principal
        finally:
            self._inflight.pop(digest, None)

    def _remember(self, digest: str, principal: Principal | None) -> None:
        now = self._clock()
        if principal is not None:
            self._known[digest] = (principal, now + _POSITIVE_TTL)
            if len(self._known) > self._max_keys:
                self._known.popitem(last=False)  # the least recently used key
        else:
            self._unknown[digest] = now + _NEGATIVE_TTL
            if len(self._unknown) > self._max_unknown:
                self._unknown.popitem(last=False)  # the oldest unknown key

    async def _lookup(self, digest: str, generation: int) -> Principal | None:
        try:
            key = await self._store.find_key_by_hash(digest)
            if key is None or not key.active:
                return None
            org = self._orgs.get(key.org_id)
            if org is None:
                org = await self._store.get_org(key.org_id)
                if org is None:
                    return None
                if generation == self._generation:
                    self._orgs[org.id] = org
        except StoreUnavailable:
            raise GatewayError(
                503, "The gateway's key store is unavailable; try again shortly.", code="store_unavailable"
            ) from None
        return Principal(key=key, org=org)


def _retrieved(task: asyncio.Future[Any]) -> None:
    """Mark a lookup's failure as seen: its waiters re-raise it, and if all of them left, nobody else will."""
    if not task.cancelled():
        task.exception()
