"""Session affinity: keep a conversation on the endpoint and key whose prompt cache holds its prefix.

Load balancing over several keys or providers scatters a conversation, and every provider's prompt cache is
local to where it was written (a key's organisation, a provider's region or machine): the next turn on another
key reads nothing from it. So a request that names a session — `Switchyard-Affinity-Key`, else Helicone's
`Helicone-Session-Id`, else the body's `prompt_cache_key` (OpenAI's own cache-routing hint) — goes first to the endpoint (provider, key, model) that served the session's previous
request with the same model string, for as long as that provider keeps an idle prompt cache (below). The pin
moves only on failure: when the pinned endpoint's circuit is open or its attempt fails, whoever serves the
request instead becomes the pin. `Switchyard-Session-Affinity: off` opts a request out.

A pin never crosses organisations: it is keyed by (organisation, affinity key, model string), and BYOK
endpoints carry their organisation in their id. It never overrides the caller's fallback chain or puts the
gateway's keys before the organisation's own (`order.py` only moves it within its chain item and auth kind).

The table is in process, bounded per organisation (least recently used dropped) and in total (the organisation
idle longest gives up its oldest pins first), and expires entries at the
provider's cache lifetime, refreshed on each use as the providers refresh their caches. With `redis.url` set,
the pins are shared by every replica (`stores/pins_redis.py`): Redis is read first, the process table is the
fallback when Redis does not answer, and writes go to Redis in the background (never delaying an answer).
Affinity keys are stored as a hash, never as sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import AffinitySettings
from .plan import Attempt

log = logging.getLogger("switchyard.pins")

AFFINITY_KEY = "switchyard-affinity-key"
AFFINITY_SWITCH = "switchyard-session-affinity"

# How long a provider keeps an idle prompt-cache prefix (seconds): the pin is worth nothing after it.
# Anthropic (also Claude on Bedrock and Vertex): 5 minutes, refreshed on every hit; 1 hour for breakpoints
# with `ttl: "1h"`. OpenAI and Azure OpenAI: "typically cleared within 5 to 10 minutes of inactivity, always
# within one hour"; `prompt_cache_retention: "24h"` keeps prefixes up to 24 hours. Gemini's implicit cache and
# the OpenAI-compatible hosts document no lifetime: the 5-minute default. `routing.affinity.ttl_seconds`
# overrides any of these per provider id.
PROMPT_CACHE_SECONDS: Mapping[str, float] = {
    "anthropic": 300.0,
    "bedrock": 300.0,
    "vertex": 300.0,
    "openai": 600.0,
    "azure": 600.0,
}
DEFAULT_SECONDS = 300.0
_EXTENDED = {"anthropic": 3600.0, "bedrock": 3600.0, "vertex": 3600.0, "openai": 86400.0, "azure": 86400.0}
_PENDING_WRITES = (
    1024  # background Redis writes in flight before new ones are dropped (the local table has them)
)


def identity(a: Attempt) -> str:
    """What a pin names: one endpoint with one key (`Attempt.endpoint_id`, no secret) and the model it sends."""
    return f"{a.endpoint_id}|{a.provider_model_id}"


@dataclass(slots=True)
class Pin:
    """One request's view of its session's pin: where to go first (`target`, None when there is none)."""

    org: str
    key: str  # hash of the affinity key and the model string
    target: str | None
    extended: bool  # the request asks the provider for its longer cache lifetime


class PinTable:
    """(organisation, key) → (target, expiry), bounded per organisation (least recently used pin out) and in total:
    over `max_total`, the organisation idle longest gives up its oldest pin (a busy organisation keeps its
    sessions; an idle one's, mostly expired, go first). Without the total bound the table grew with the number
    of organisations, expired pins included."""

    def __init__(
        self, max_per_org: int = 10_000, clock: Callable[[], float] = time.monotonic, max_total: int = 200_000
    ) -> None:
        self._max = max_per_org
        self._max_total = max_total
        self._clock = clock
        self._orgs: OrderedDict[str, OrderedDict[str, tuple[str, float]]] = (
            OrderedDict()
        )  # idle longest first
        self._total = 0

    def get(self, org: str, key: str) -> str | None:
        pins = self._orgs.get(org)
        if pins is None:
            return None
        entry = pins.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del pins[key]
            self._total -= 1
            if not pins:
                del self._orgs[org]
            return None
        pins.move_to_end(key)
        self._orgs.move_to_end(org)
        return entry[0]

    def put(self, org: str, key: str, target: str, ttl: float) -> None:
        pins = self._orgs.get(org)
        if pins is None:
            pins = self._orgs[org] = OrderedDict()
        self._orgs.move_to_end(org)
        if key not in pins:
            self._total += 1
        pins[key] = (sys.intern(target), self._clock() + ttl)  # one string per endpoint, not per pin
        pins.move_to_end(key)
        while len(pins) > self._max:
            pins.popitem(last=False)
            self._total -= 1
        while self._total > self._max_total:
            idle_org, idle = next(iter(self._orgs.items()))
            idle.popitem(last=False)
            self._total -= 1
            if not idle:
                del self._orgs[idle_org]

    def size(self, org: str | None = None) -> int:
        if org is not None:
            return len(self._orgs.get(org, ()))
        return self._total


class SessionPins:
    def __init__(
        self,
        settings: AffinitySettings,
        shared: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = settings.enabled
        self.table = PinTable(settings.max_per_org, clock, settings.max_total)
        self._ttl = {**PROMPT_CACHE_SECONDS, **settings.ttl_seconds}
        self._overrides = dict(settings.ttl_seconds)
        self.shared = shared  # stores/pins_redis.RedisPins, or None
        self._writes: set[asyncio.Task[None]] = set()
        self.dropped_writes = 0

    def ttl(self, a: Attempt, extended: bool = False) -> float:
        pid = a.provider.id
        if pid in self._overrides:
            return self._overrides[pid]
        if extended and pid in _EXTENDED:
            return _EXTENDED[pid]
        # by provider id, not wire format: an OpenAI-compatible host keeps its cache its own way
        return self._ttl.get(pid, DEFAULT_SECONDS)

    def affinity_key(self, headers: Mapping[str, str], session_id: str | None) -> str | None:
        if not self.enabled:
            return None
        switch = headers.get(AFFINITY_SWITCH)
        if switch is not None and switch.strip().lower() in ("off", "false", "0", "no"):
            return None
        return (headers.get(AFFINITY_KEY) or "").strip() or session_id

    async def lookup(self, ctx: Any) -> Pin | None:
        """The request's pin (None: it names no session, or affinity is off). Sets `ctx.pinned` to False; the
        executor sets it True when the pinned endpoint is the one tried first."""
        if ctx.principal is None:
            return None
        name = self.affinity_key(ctx.forward_headers, ctx.helicone.session_id or _cache_key(ctx.body))
        if not name:
            return None
        org = ctx.principal.org.id
        digest = hashlib.blake2b(
            f"{name}\x00{ctx.requested_model}".encode("utf-8", "surrogatepass"), digest_size=16
        ).hexdigest()
        target = None
        if self.shared is not None:
            try:
                target = await self.shared.get(org, digest)
            except Exception as e:  # Redis down or slow: this process's own pins still hold
                log.debug("shared pin lookup failed: %s", e)
        if target is None:  # (also a pin whose shared write has not landed yet)
            target = self.table.get(org, digest)
        ctx.pinned = False
        return Pin(org, digest, target, _asks_extended(ctx.raw_body))

    def first(self, ctx: Any, pin: Pin, attempt: Attempt | None) -> None:
        """The ordered plan's first attempt is known: the request was pinned when it is the session's pin."""
        ctx.pinned = pin.target is not None and attempt is not None and identity(attempt) == pin.target

    def served(self, pin: Pin, attempt: Attempt) -> None:
        """`attempt` answered: it is the session's pin from now on, for the provider's cache lifetime."""
        target = identity(attempt)
        ttl = self.ttl(attempt, pin.extended)
        self.table.put(pin.org, pin.key, target, ttl)
        if self.shared is not None:
            if len(self._writes) >= _PENDING_WRITES:
                self.dropped_writes += 1
                return
            task = asyncio.ensure_future(self._share(pin, target, ttl))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _share(self, pin: Pin, target: str, ttl: float) -> None:
        try:
            await self.shared.put(pin.org, pin.key, target, ttl)
        except Exception as e:
            log.debug("shared pin write failed: %s", e)

    async def close(self) -> None:
        """Let the writes in flight land (each is bounded by the Redis timeout)."""
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)


def _cache_key(body: Any) -> str | None:
    """OpenAI's own cache-routing hint (`prompt_cache_key`): a caller that sets one asks for cache affinity."""
    key = body.get("prompt_cache_key") if isinstance(body, dict) else None
    return key if isinstance(key, str) and key else None


def _asks_extended(raw: bytes | None) -> bool:
    """Does the body ask for the longer cache lifetime (Anthropic `ttl: "1h"`, OpenAI
    `prompt_cache_retention: "24h"`)? A byte search, not a parse: a false positive only keeps a pin longer."""
    if not raw:
        return False
    return (b'"1h"' in raw and b'"ttl"' in raw) or b'"24h"' in raw
