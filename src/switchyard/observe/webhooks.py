"""Webhooks: an outbox fed by the log sink, a durable queue in the database, and a sender with retries.

Never on a request's path: the log sink hands each batch it has stored to `offer` (synchronous, no I/O: a dict
look-up per record for its organisation's webhooks, then sampling and the property filter). Matching messages
wait in memory for at most ~100 ms before one INSERT puts them in `webhook_deliveries`; the sink never waits for
that insert, so a slow or failing queue cannot hold up the log. Message ids are a hash of (webhook, request
uid), so a log batch replayed from the spool after a crash queues nothing twice. A SIGKILL in the ~100 ms
between a row being logged and its messages being queued loses those messages (not the row), a bounded window
like the sink's own write-ahead window.

The sender polls the queue every `poll` seconds (sooner when something was queued here), claims due rows with a
compare-and-set on `next_at` (so replicas never send one row twice at once; a crashed sender's row comes due
again after `lease`), POSTs them signed (`webhook_messages.headers`) through the gateway's HTTP client, and
schedules failures along `RETRY_SCHEDULE` (first retry after 5 s, the last ~27.6 h after the first try).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Any

import orjson

from ..errors import redact
from ..providers.base import UpstreamError, UpstreamRequest
from ..providers.transport import Timeouts
from ..stores.base import StoreUnavailable
from ..stores.sql_webhooks import Webhook, WebhookStore
from . import webhook_messages as wm

log = logging.getLogger("switchyard.webhooks")

SEND_TIMEOUTS = Timeouts(connect=5.0, first_byte=10.0, total=15.0)
MAX_PENDING = 50_000  # messages waiting in memory for the queue insert; beyond: dropped and counted


def _now_ms() -> int:
    return int(time.time() * 1000)


class Webhooks:
    def __init__(
        self,
        store: WebhookStore,
        secrets: Any,
        transport: Any,
        *,
        poll: float = 1.0,
        refresh: float = 5.0,
        lease: float = 60.0,
        concurrency: int = 8,
    ) -> None:
        self.store = store
        self._secrets = secrets
        self._transport = transport
        self._poll, self._refresh, self._lease = poll, refresh, lease
        self._sem = asyncio.Semaphore(concurrency)
        self._by_org: dict[str, list[Webhook]] = {}
        self._keys: dict[str, bytes] = {}  # webhook id → signing key (decrypted once per refresh)
        self._pending: collections.deque[dict[str, Any]] = collections.deque()
        self._wake_writer = asyncio.Event()
        self._wake_sender = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.queued = 0  # messages inserted into the queue by this process
        self.sent = 0
        self.failed_attempts = 0
        self.dropped = 0

    async def start(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            await self.reload()
        self._tasks = [
            asyncio.create_task(self._loop(self._refresher), name="switchyard-webhook-refresh"),
            asyncio.create_task(self._loop(self._writer), name="switchyard-webhook-outbox"),
            asyncio.create_task(self._loop(self._sender), name="switchyard-webhook-sender"),
        ]

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        if self._pending:  # the last matches of the drained log go to the queue before the store closes
            with contextlib.suppress(StoreUnavailable):
                await self._flush()

    def kick(self) -> None:
        """Look at the queue now (something was queued by another component, e.g. an alert)."""
        self._wake_sender.set()

    async def reload(self) -> None:
        """Re-read every webhook (a small table) into the per-organisation index `offer` uses."""
        hooks = await self.store.list_webhooks()
        by_org: dict[str, list[Webhook]] = {}
        keys: dict[str, bytes] = {}
        for h in hooks:
            by_org.setdefault(h.org_id, []).append(h)
            try:
                keys[h.id] = wm.secret_key(self._secrets.decrypt(h.secret))
            except Exception:  # a secret sealed under another master key: sent unsigned would be worse
                log.error(
                    "webhook %s: its secret cannot be decrypted with this master key; not delivering", h.id
                )
        self._by_org, self._keys = by_org, keys

    # -- the outbox (called by the log sink) ---------------------------------------------------------------

    def offer(self, records: list[dict[str, Any]]) -> None:
        """Messages for the stored records that some webhook wants. No I/O; never raises into the sink."""
        by_org = self._by_org
        if not by_org:
            return
        now = _now_ms()
        for rec in records:
            hooks = by_org.get(rec.get("org_id", ""))
            if not hooks:
                continue
            uid = rec.get("uid") or rec["id"]
            for h in hooks:
                if h.id not in self._keys or not wm.matches(h.property_filter, rec.get("properties")):
                    continue
                if not wm.sampled(h.sample_rate, h.id, uid):
                    continue
                if len(self._pending) >= MAX_PENDING:
                    self.dropped += 1
                    continue
                self._pending.append(
                    {
                        "id": wm.delivery_id(h.id, uid),
                        "org_id": h.org_id,
                        "webhook_id": h.id,
                        "alert_id": None,
                        "url": h.url,
                        "request_id": rec["id"],
                        "status": "pending",
                        "attempts": 0,
                        "next_at": now,
                        "payload": orjson.dumps(wm.request_event(rec, h.include_bodies)).decode(),
                        "last_status": None,
                        "last_error": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        if self._pending:
            self._wake_writer.set()

    async def _flush(self) -> None:
        while self._pending:
            batch = [self._pending.popleft() for _ in range(min(500, len(self._pending)))]
            try:
                await self.store.enqueue(batch)
            except BaseException:
                self._pending.extendleft(reversed(batch))
                raise
            self.queued += len(batch)
        self._wake_sender.set()

    # -- background tasks ----------------------------------------------------------------------------------

    async def _loop(self, step: Any) -> None:
        backoff = 0.5
        while True:
            try:
                await step()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as e:
                log.warning("webhooks: store unavailable (%s); retrying in %.1fs", e, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception:
                log.exception("webhooks: background task failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _refresher(self) -> None:
        await asyncio.sleep(self._refresh)
        await self.reload()

    async def _writer(self) -> None:
        if not self._pending:  # (after a failed insert the messages are still here: no wake-up needed)
            await self._wake_writer.wait()
        self._wake_writer.clear()
        await asyncio.sleep(0.1)  # gather the next few batches into one insert
        await self._flush()

    async def _sender(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake_sender.wait(), self._poll)
        self._wake_sender.clear()
        while await self.send_due() == 50:  # a full page: there may be more
            pass

    async def send_due(self, limit: int = 50) -> int:
        """Claim and send the deliveries that are due. Returns how many were claimed."""
        now = _now_ms()
        rows = await self.store.due(now, limit)
        lease_until = now + int(self._lease * 1000)
        claimed = [r for r in rows if await self.store.claim(r.id, r.next_at, lease_until)]
        if claimed:
            await asyncio.gather(*(self._send(r) for r in claimed))
        return len(claimed)

    async def _send(self, row: Any) -> None:
        async with self._sem:
            key = None
            if row.webhook_id is not None:
                key = self._keys.get(row.webhook_id)
                if key is None:  # deleted (or not yet seen here): check before sending unsigned
                    with contextlib.suppress(StoreUnavailable):
                        await self.reload()
                    key = self._keys.get(row.webhook_id)
                if key is None:
                    await self.store.finish(
                        row.id,
                        status="failed",
                        attempts=row.attempts,
                        next_at=row.next_at,
                        last_status=None,
                        last_error="webhook deleted",
                        now=_now_ms(),
                    )
                    return
            body = row.payload.encode()
            status, error = await self._post(row.url, wm.headers(row.id, body, key), body)
        attempts = row.attempts + 1
        now = _now_ms()
        if error is None:
            self.sent += 1
            await self.store.finish(
                row.id,
                status="delivered",
                attempts=attempts,
                next_at=now,
                last_status=status,
                last_error=None,
                now=now,
            )
            return
        self.failed_attempts += 1
        delay = wm.next_delay(attempts)
        await self.store.finish(
            row.id,
            status="pending" if delay is not None else "failed",
            attempts=attempts,
            next_at=now + (delay or 0) * 1000,
            last_status=status,
            last_error=error,
            now=now,
        )
        if delay is None:
            log.warning(
                "webhook message %s to %s failed %d times; giving up: %s", row.id, row.url, attempts, error
            )

    async def _post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int | None, str | None]:
        """(receiver's status, None) on a 2xx; (status or None, what went wrong) otherwise."""
        try:
            resp = await self._transport.send(UpstreamRequest("POST", url, headers, body), SEND_TIMEOUTS)
            try:
                text = await resp.read()
            finally:
                resp.close()
        except UpstreamError as e:
            return None, redact(e.message)[:500]
        except (OSError, ValueError) as e:
            return None, redact(str(e))[:500]
        if 200 <= resp.status < 300:
            return resp.status, None
        return resp.status, f"HTTP {resp.status}: {redact(text[:200].decode('utf-8', 'replace'))}"
