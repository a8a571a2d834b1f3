"""A loopback stand-in for Stripe's meter-events endpoint (`POST /v1/billing/meter_events`), served to the
official `stripe` client the gateway uses.

It answers in Stripe's shapes — a `billing.meter_event` object, or `{"error": {"type", "code", "message",
"param"}}` with a `Request-Id` header — and refuses what Stripe refuses: a wrong or missing secret key (401), an
unknown parameter, a missing or over-long `event_name`, a payload without the customer or value key, a value that
is not a number, a timestamp older than 35 days or over 5 minutes ahead, a repeated `identifier` (400, with
`Stripe-Should-Retry: false`), and an `Idempotency-Key` reused with other parameters (`idempotency_error`); the
same key with the same parameters replays the first answer (`Idempotent-Replayed: true`). One deliberate
difference: Stripe makes up an identifier when none is sent, the stand-in refuses the event, so a sender that
forgot it (and so could bill twice) fails the tests.

`fail_next(status, n)` answers the next `n` requests with a 500 (`api_error`) or 429 (`rate_limit`) before
looking at them. `events` holds the accepted events, `requests` every request (path, headers, form).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from .threaded_app import LoopbackServer, ThreadedApp

PATH = "/v1/billing/meter_events"
KNOWN = re.compile(r"^(event_name|identifier|timestamp|payload\[[^\]]+\]|expand\[\d*\])$")
NUMBER = re.compile(r"^\d+(\.\d+)?$")
MAX_AGE_S = 35 * 86_400
MAX_AHEAD_S = 300


class StripeStandIn(LoopbackServer):
    def __init__(
        self, secret_key: str, customer_key: str = "stripe_customer_id", value_key: str = "value"
    ) -> None:
        self.secret_key = secret_key
        self.customer_key, self.value_key = customer_key, value_key
        self.events: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._failures: list[int] = []
        self._identifiers: set[str] = set()
        self._idempotent: dict[str, tuple[tuple[tuple[str, str], ...], int, bytes]] = {}
        self._lock = threading.Lock()
        self._app = ThreadedApp(self._handle, name="stripe-standin", max_body=1 << 20)

    def fail_next(self, status: int, n: int = 1) -> None:
        with self._lock:
            self._failures.extend([status] * n)

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        form = parse_qsl(raw.decode(), keep_blank_values=True)
        with self._lock:
            self.requests.append({"path": request.path, "headers": dict(request.headers), "form": form})
            failure = self._failures.pop(0) if self._failures else None
            if failure == 429:
                return _error(
                    429, "invalid_request_error", "Too many requests hit the API too quickly.", "rate_limit"
                )
            if failure is not None:
                return _error(failure, "api_error", "An unknown error occurred on our side.")
            return self._answer(request, form)

    def _answer(self, request: web.Request, form: list[tuple[str, str]]) -> web.Response:
        if request.path != PATH:
            return _error(404, "invalid_request_error", f"Unrecognized request URL (POST: {request.path}).")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _error(401, "invalid_request_error", "You did not provide an API key.")
        if auth[7:] != self.secret_key:
            key = auth[7:]
            return _error(401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}****{key[-4:]}")
        if request.content_type != "application/x-www-form-urlencoded":
            return _error(400, "invalid_request_error", "Invalid request: expected a form-encoded body.")
        key = request.headers.get("Idempotency-Key")
        params = tuple(sorted(form))
        if key is not None and key in self._idempotent:
            first, status, body = self._idempotent[key]
            if first != params:
                msg = "Keys for idempotent requests can only be used with the same parameters they were first used with."
                return _error(400, "idempotency_error", msg)
            return _json(status, body, {"Idempotent-Replayed": "true"})
        resp = self._create(dict(form), [k for k, _ in form])
        if key is not None and resp.status < 500:
            self._idempotent[key] = (params, resp.status, resp.body)  # type: ignore[assignment]
        return resp

    def _create(self, f: dict[str, str], names: list[str]) -> web.Response:
        for name in names:
            if not KNOWN.match(name):
                return _error(
                    400,
                    "invalid_request_error",
                    f"Received unknown parameter: {name}",
                    "parameter_unknown",
                    name,
                )
        name = f.get("event_name", "")
        if not name:
            return _missing("event_name")
        if len(name) > 100:
            return _error(
                400,
                "invalid_request_error",
                "event_name is too long (max 100).",
                "string_too_long",
                "event_name",
            )
        ident = f.get("identifier")
        if not ident:
            return _missing(
                "identifier"
            )  # Stripe would generate one: the stand-in insists (see the module doc)
        if len(ident) > 100:
            return _error(
                400,
                "invalid_request_error",
                "identifier is too long (max 100).",
                "string_too_long",
                "identifier",
            )
        payload = {k[8:-1]: v for k, v in f.items() if k.startswith("payload[")}
        for k in (self.customer_key, self.value_key):
            if k not in payload:
                return _missing(f"payload[{k}]")
        if not NUMBER.match(payload[self.value_key]):
            msg = f"Invalid value for payload[{self.value_key}]: must be a number."
            return _error(
                400, "invalid_request_error", msg, "parameter_invalid_string", f"payload[{self.value_key}]"
            )
        now = int(time.time())
        ts_raw = f.get("timestamp", str(now))
        if not ts_raw.isdigit():
            return _error(
                400,
                "invalid_request_error",
                "Invalid integer: " + ts_raw[:40],
                "parameter_invalid_integer",
                "timestamp",
            )
        ts = int(ts_raw)
        if ts < now - MAX_AGE_S or ts > now + MAX_AHEAD_S:
            msg = "Timestamp must be within the past 35 calendar days or up to 5 minutes in the future."
            return _error(400, "invalid_request_error", msg, "parameter_invalid_integer", "timestamp")
        if ident in self._identifiers:
            msg = f"An event already exists with identifier {ident}."
            return _error(400, "invalid_request_error", msg, headers={"Stripe-Should-Retry": "false"})
        self._identifiers.add(ident)
        event = {
            "object": "billing.meter_event",
            "created": now,
            "event_name": name,
            "identifier": ident,
            "livemode": False,
            "payload": payload,
            "timestamp": ts,
        }
        self.events.append(event)
        return _json(200, orjson.dumps(event))


def _missing(param: str) -> web.Response:
    return _error(
        400, "invalid_request_error", f"Missing required param: {param}.", "parameter_missing", param
    )


def _error(
    status: int,
    type_: str,
    message: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    err: dict[str, Any] = {"type": type_, "message": message}
    if code:
        err["code"] = code
    if param:
        err["param"] = param
    return _json(status, orjson.dumps({"error": err}), headers)


def _json(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    h = {"Request-Id": "req_" + uuid.uuid4().hex[:14], **(headers or {})}
    return web.Response(status=status, body=body, content_type="application/json", headers=h)
