"""One meter event to Stripe with the official `stripe` package, and what its answer means for the sender.

`POST /v1/billing/meter_events` (form-encoded: `event_name`, `payload[<customer key>]`, `payload[<value key>]`,
`identifier`, `timestamp` in seconds). The event's `identifier` is also the request's `Idempotency-Key`, so the
client's own retries of one request replay Stripe's first answer instead of creating a second event.

Outcomes: `sent`; `duplicate` when Stripe already holds an event with this identifier (it replays its first
answer to a repeated idempotency key, refuses a repeated identifier for at least 24 hours, or answers an
idempotency error when the same key comes with other values): the usage was delivered before, so it is settled; `rejected` for any other 4xx (a bad customer id, say),
settled too so one bad event never stalls the meter; `Retry` (raised) for 429, 409, 5xx, network errors and
authentication or permission errors (a key being rotated), retried by the sender with backoff.

The secret key lives only inside the `StripeClient`; every message that leaves this module passes `scrub`.
The stripe package is imported only when a key is configured.

The blocking client runs in a daemon thread of its own, not `asyncio.to_thread`: the default executor's threads are
joined at exit (by `asyncio.run`, with no time limit on Python 3.11, and by the interpreter), so a Stripe call that
hangs would hold a stopping gateway for its whole timeout × retries. An abandoned call (the meter was stopped) ends
on its own; its event is unsettled, and the next process resends it under the same identifier.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the stripe package is imported only when a key is configured
    from stripe.params.billing import MeterEventCreateParams


@dataclass(frozen=True)
class MeterEvent:
    identifier: str
    event_name: str
    customer: str
    value: int
    timestamp: int  # seconds since the epoch
    org_id: str
    period_start: int  # ms


class Retry(Exception):
    """Stripe could not take the event now; the message is safe to log."""


class StripeMeterClient:
    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None = None,
        customer_key: str = "stripe_customer_id",
        value_key: str = "value",
        max_network_retries: int = 2,
        timeout: float = 30.0,
    ) -> None:
        import stripe  # ~1 s to import: only when metering is on

        self._stripe = stripe
        self._secret = secret_key
        self._customer_key, self._value_key = customer_key, value_key
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def __repr__(self) -> str:  # never the key
        return "StripeMeterClient()"

    def scrub(self, text: str) -> str:
        return text.replace(self._secret, "[stripe secret key]") if self._secret else text

    async def send(self, e: MeterEvent) -> tuple[str, str | None]:
        """(`sent` | `duplicate` | `rejected`, error text or None); raises Retry. Runs the blocking client in a
        daemon thread: never on the event loop, never on a request's path, never holding the process at exit."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[str, str | None]] = loop.create_future()

        def work() -> None:
            try:
                result, error = self._send(e), None
            except BaseException as err:  # handed to the awaiting coroutine, never lost in this thread
                result, error = None, err
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, answer, result, error)

        threading.Thread(target=work, name="switchyard-stripe-send", daemon=True).start()
        return await answer

    def _send(self, e: MeterEvent) -> tuple[str, str | None]:
        s = self._stripe
        params: MeterEventCreateParams = {
            "event_name": e.event_name,
            "identifier": e.identifier,
            "timestamp": e.timestamp,
            "payload": {self._customer_key: e.customer, self._value_key: str(e.value)},
        }
        try:
            made = self._client.v1.billing.meter_events.create(params, {"idempotency_key": e.identifier})
        except s.IdempotencyError as err:
            return "duplicate", self._describe(err)
        except s.InvalidRequestError as err:
            status = err.http_status or 400
            if status in (409, 429) or status >= 500:
                raise Retry(self._describe(err)) from None
            return ("duplicate" if _is_duplicate(err) else "rejected"), self._describe(err)
        except (s.AuthenticationError, s.PermissionError, s.RateLimitError, s.APIConnectionError) as err:
            raise Retry(self._describe(err)) from None
        except s.StripeError as err:  # APIError and the rest: Stripe's side
            raise Retry(self._describe(err)) from None
        last = made.last_response
        if last is not None and last.headers.get("Idempotent-Replayed") == "true":
            return "duplicate", "replayed: Stripe had this event already"
        return "sent", None

    def _describe(self, err: Any) -> str:
        status = getattr(err, "http_status", None)
        code = getattr(err, "code", None)
        msg = getattr(err, "user_message", None) or type(err).__name__
        return self.scrub(f"{type(err).__name__} {status or '-'} {code or '-'}: {msg}")[:300]


def _settle(answer: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if answer.done():  # cancelled: the meter was stopped while Stripe was answering
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)


def _is_duplicate(err: Any) -> bool:
    """Stripe's answer to an identifier it has seen: a 400 naming the identifier as already existing."""
    msg = (getattr(err, "user_message", None) or "").lower()
    return getattr(err, "code", None) == "resource_already_exists" or (
        "already exists" in msg and "identifier" in msg
    )
