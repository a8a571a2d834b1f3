"""Caller authentication: find the gateway key in the request, look its hash up in an in-process cache.

Accepted forms: `Authorization: Bearer <key>`, `Helicone-Auth: Bearer <key>`, `x-api-key: <key>`,
`x-api-key: Bearer <key>`, and the doubled `Authorization: Bearer Bearer <key>` sent by Anthropic SDK 2.x
when given a `Bearer `-prefixed key. No database query sits on the hot path: hits are served from memory,
and a background poller (every second) drops the cache when keys are created or revoked anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..errors import GatewayError
from ..security import Secrets
from ..stores.base import GatewayKey, Org, StoreUnavailable

log = logging.getLogger("switchyard.auth")

_NEGATIVE_TTL = 5.0
_POSITIVE_TTL = 300.0
_MAX_ENTRIES = 50_000


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
    def __init__(self, store, secrets: Secrets, poll_interval: float = 1.0) -> None:
        self._store = store
        self._secrets = secrets
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._orgs: dict[str, Org] = {}
        self._poll_interval = poll_interval
        self._revision: tuple[int, ...] | None = None
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Any] = []

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
        self._cache.clear()
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
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            principal = hit[0]
        else:
            principal = await self._lookup(digest)
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache.clear()
            self._cache[digest] = (principal, now + (_POSITIVE_TTL if principal else _NEGATIVE_TTL))
        if principal is None:
            raise GatewayError(401, "Invalid gateway key.", code="invalid_api_key")
        return principal

    async def _lookup(self, digest: str) -> Principal | None:
        try:
            key = await self._store.find_key_by_hash(digest)
        except StoreUnavailable:
            raise GatewayError(503, "The gateway's key store is unavailable; try again shortly.", code="store_unavailable") from None
        if key is None or not key.active:
            return None
        org = self._orgs.get(key.org_id)
        if org is None:
            org = await self._store.get_org(key.org_id)
            if org is None:
                return None
            self._orgs[org.id] = org
        return Principal(key=key, org=org)
