"""Caller-chosen request ids in flight: a second request with the same id in the same organisation is a 409.

`Helicone-Request-Id` lets a caller choose the id it later uses for feedback and look-ups, so one id should name
one request. Two cases of reuse within an organisation, handled differently on purpose:

* **At the same time** (a client retrying a request that is still running, or a bug): answered 409
  `duplicate_request_id` before any upstream call — no second spend, and nothing else would tell the caller.
  Checked against this process's set of in-flight ids: a dict lookup, no database round trip on the hot path.
* **Later** (the first request has finished): served. SDKs resend the same headers when they retry a 429 or a
  5xx, and a 409 there would turn every retry into a failure. The log keeps the first row under the id; the
  later one is stored under its server-made `uid` with `duplicate_of` set to the caller's id (see
  `stores/log_writer.py`), so no row is lost and a filter on `duplicate_of` finds them all.

Two replicas serving the same id at the same moment both answer; their rows are resolved like the "later" case.
The 409's own log row is stored under its `uid` (with `duplicate_of`) at once, so it can never take the id from
the request that is still running.
"""

from __future__ import annotations

from ..errors import GatewayError
from .headers import HeliconeHeaders


class InFlightIds:
    """(organisation id, request id) → the uid of the request holding it, for requests in flight here."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], str] = {}

    def claim(self, org_id: str, h: HeliconeHeaders) -> None:
        """Hold the caller's id for this request; GatewayError 409 when another request here holds it."""
        if not h.caller_id:
            return  # a server-made id is unpredictable and never reused
        key = (org_id, h.request_id)
        if key not in self._held:
            self._held[key] = h.uid
            return
        h.duplicate_of, h.request_id = h.request_id, h.uid
        raise GatewayError(
            409,
            f"Another request with Helicone-Request-Id {h.duplicate_of} is still in progress in your organisation; "
            "wait for it to finish, or send a new id.",
            code="duplicate_request_id",
        )

    def release(self, org_id: str, h: HeliconeHeaders) -> None:
        key = (org_id, h.request_id)
        if self._held.get(key) == h.uid:
            del self._held[key]

    def __len__(self) -> int:
        return len(self._held)
