"""Responses API state for bridged providers: keep what the gateway answered, resolve it when a caller points at it.

OpenAI keeps every response made with `store` on (the default) and lets the next request name it
(`previous_response_id`) or any of its output items (`{"type": "item_reference", "id": ...}`, which the Vercel AI
SDK sends for every earlier assistant turn). Native OpenAI/Azure attempts get the body untouched and OpenAI does
this itself; for the providers the Responses API is bridged to (Claude, Gemini, ...) the gateway does it:

- `prepare` (hot path, only for a body that names stored state and a plan with a bridged attempt): one indexed
  look-up of every named id, scoped to the caller's organisation, then the expanded input on the surface. An
  unknown id is OpenAI's error; with a native attempt in the plan it is raised only if a bridged attempt runs.
- `keep` (after the answer went out): the response's whole conversation and each output item, queued for a
  writer task (never on the hot path); until written they are served from memory, and a look-up that misses
  waits once for a write in flight (another worker) before answering not found.
- Rows expire after `responses.retention_days` (0: nothing is kept, and stateful requests get a 400 that says
  so); expired rows are purged hourly in small batches. `store: false` keeps nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ..errors import GatewayError
from ..formats.openai_responses_refs import ITEM, RESPONSE, conversation, expand, references
from ..stores.base import StoreUnavailable
from ..stores.responses_items import ResponseItems, StoredRow

log = logging.getLogger("switchyard.responses_state")

_DAY_MS = 86_400_000
_MAX_PENDING = 20_000  # rows waiting for the store; beyond it the oldest are dropped (logged)
_MISS_WAIT = 0.05  # seconds a look-up that missed waits for a write in flight elsewhere, once
_PURGE_EVERY = 3600.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class ResponsesState:
    def __init__(self, items: ResponseItems | None, retention_days: int) -> None:
        self.items = items
        self.retention_ms = retention_days * _DAY_MS
        self.enabled = items is not None and retention_days > 0
        self._pending: dict[tuple[str, str], StoredRow] = {}  # written soon; readable now
        self._queue: list[StoredRow] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.enabled:
            self._tasks = [asyncio.ensure_future(self._writer()), asyncio.ensure_future(self._purger())]

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._tasks:
            writer, purger = self._tasks
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(writer, 10)  # the last answers' state lands before the store closes

    # -- hot path --------------------------------------------------------------------------------
    async def prepare(self, org_id: str, body: dict[str, Any], surface: Any, attempts: list[Any]) -> None:
        """For a Responses surface: whether this answer will be kept, and the expanded input when the body names
        stored state and some attempt is bridged. Raises OpenAI's not-found error when every attempt is."""
        if getattr(surface, "kind", None) != "responses":
            return
        bridged = [a for a in attempts if not a.provider.responses]
        surface.keeping = self.enabled and bool(bridged) and body.get("store") is not False
        if not self.enabled or not bridged:
            return  # native attempts only: OpenAI keeps its own state; disabled: to_chat explains the 400
        prev, refs = references(body)
        if prev is None and not refs:
            return
        wanted = ([prev] if prev else []) + refs
        try:
            found = await self._lookup(org_id, wanted)
            surface.resolved = expand(body, found)
        except (GatewayError, StoreUnavailable) as e:  # not found, or the store is down
            err = e if isinstance(e, GatewayError) else _unavailable()
            if len(bridged) == len(attempts):
                raise err from None
            surface.state_error = err  # a native attempt may still serve it; a bridged one will raise it

    def keep(self, org_id: str, surface: Any) -> None:
        """Queue the finished response of a bridged, kept answer (never blocks, never raises)."""
        if not getattr(surface, "keeping", False):
            return
        response = surface.produced
        if not isinstance(response, dict) or not response.get("id"):
            return
        now = _now_ms()
        expires = now + self.retention_ms
        output = response.get("output") or []
        rows = [
            StoredRow(
                org_id,
                response["id"],
                RESPONSE,
                conversation(surface.resolved, surface.body, output),
                now,
                expires,
            )
        ]
        rows += [
            StoredRow(org_id, item["id"], ITEM, item, now, expires)
            for item in output
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        ]
        for row in rows:
            self._pending[(org_id, row.id)] = row
        self._queue += rows
        if len(self._queue) > _MAX_PENDING:
            dropped = self._queue[: len(self._queue) - _MAX_PENDING]
            del self._queue[: len(dropped)]
            for row in dropped:
                self._pending.pop((row.org_id, row.id), None)
            log.warning("responses state: store behind, %d rows dropped", len(dropped))
        self._wake.set()

    async def _lookup(self, org_id: str, ids: list[str]) -> dict[str, tuple[str, Any]]:
        found: dict[str, tuple[str, Any]] = {}
        for i in ids:
            row = self._pending.get((org_id, i))
            if row is not None:
                found[i] = (row.kind, row.data)
        missing = [i for i in ids if i not in found]
        if missing:
            assert self.items is not None
            found.update(await self.items.get(org_id, missing, _now_ms()))
            missing = [i for i in ids if i not in found]
            if missing:  # written by another worker a moment ago, perhaps: look once more
                await asyncio.sleep(_MISS_WAIT)
                found.update(await self.items.get(org_id, missing, _now_ms()))
        return found

    # -- background ------------------------------------------------------------------------------
    async def _writer(self) -> None:
        assert self.items is not None
        backoff = 0.1
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch, self._queue = self._queue[:500], self._queue[500:]
            try:
                await self.items.put(batch)
            except StoreUnavailable as e:
                self._queue = batch + self._queue
                if self._closing:
                    log.warning("responses state: %d rows not written at shutdown: %s", len(self._queue), e)
                    return
                log.warning("responses state: store unavailable, retrying in %.1fs: %s", backoff, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            for row in batch:
                if self._pending.get((row.org_id, row.id)) is row:
                    del self._pending[(row.org_id, row.id)]

    async def _purger(self) -> None:
        assert self.items is not None
        while True:
            try:
                while await self.items.purge(_now_ms()) >= 1000:
                    await asyncio.sleep(0.1)
            except StoreUnavailable as e:
                log.warning("responses state: purge failed: %s", e)
            await asyncio.sleep(_PURGE_EVERY)


def _unavailable() -> GatewayError:
    return GatewayError(
        503,
        "The gateway could not read the stored responses this request refers to; try again shortly.",
        code="store_unavailable",
        headers={"retry-after": "1"},
    )
