"""The move-on rules: which failed attempt lets the plan go on (and to which attempts), and the caller-facing
error once every attempt failed. Pure: reads only an UpstreamError's `kind`/`status` and the attempts' auth and
context windows; the attempt loop (`execute.py`) applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import GatewayError, redact
from ..providers.base import UpstreamError
from .plan import Attempt

_MOVES_ON = frozenset(
    {
        "connection",
        "timeout",
        "rate_limited",
        "overloaded",
        "server",
        "auth",
        "not_found",
        "unsupported",
        "circuit_open",
        "cancelled",
    }
)


@dataclass(slots=True)
class Run:
    """What the attempts of one request learned so far."""

    body: dict[str, Any]  # what the attempts send (credit holds are sized on it)
    errors: list[tuple[Attempt, UpstreamError]] = field(default_factory=list)
    ptb_blocked: bool = False  # credits could not be reserved: only BYOK attempts may still run
    context_floor: int | None = None  # after a context-length error: only larger windows
    tries: int = 0
    holds: int = 0  # credit reservations made (numbers their ids)
    panic: bool = False  # every endpoint of the plan is ejected: try them anyway (no healthy alternative)


def eligible(attempt: Attempt, run: Run) -> bool:
    """Whether the attempt may still run after what the earlier ones learned."""
    if run.ptb_blocked and attempt.auth == "ptb":
        return False
    if run.context_floor is not None:
        window = attempt.context
        if window is not None and window <= run.context_floor:
            return False
    return True


def moves_on(attempt: Attempt, e: UpstreamError, run: Run) -> bool:
    """Whether the plan goes on after this attempt failed with `e` (recording what that rules out in `run`)."""
    if e.kind in ("insufficient_credits", "credits_unavailable"):
        run.ptb_blocked = True
        return True
    if e.kind == "context_length":
        window = attempt.context
        if window is not None:  # unknown window (a passthrough model): any later attempt may be larger
            run.context_floor = max(run.context_floor or 0, window)
        return True
    return e.kind in _MOVES_ON or e.status in (408, 409)


def final_error(errors: list[tuple[Attempt, UpstreamError]]) -> GatewayError:
    """The caller-facing error once every attempt failed: the last real upstream error (an attempt skipped by the
    circuit breaker only when nothing was tried), every attempt in `details`."""
    if not errors:
        return GatewayError(503, "No attempt could be made for this request.", code="no_attempts")
    tried = [x for x in errors if x[1].kind != "circuit_open"] or errors
    attempt, e = tried[-1]
    status = e.status if 400 <= e.status < 600 else 502
    message = redact(e.message)
    if e.kind == "auth" and e.status in (401, 403):
        whose = (
            f"your organisation's key {attempt.key_id!r}"
            if attempt.auth == "byok"
            else "the gateway's credentials"
        )
        message = f"Provider {attempt.provider.id} rejected {whose} for it: {message}"
    details = None
    if len(errors) > 1:
        details = [
            {"source": a.source, "status": x.status, "kind": x.kind, "message": redact(x.message)}
            for a, x in errors
        ]
    headers = {}
    if e.retry_after is not None and status in (429, 503):
        headers["retry-after"] = str(max(1, round(e.retry_after)))
    code = e.code if isinstance(e.code, str) else None
    return GatewayError(
        status, message, code=code or e.kind, type=e.type, param=e.param, headers=headers, details=details
    )
