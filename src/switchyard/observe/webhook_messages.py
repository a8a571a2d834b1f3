"""Webhook messages, pure: the event body, Standard Webhooks signatures, sampling, filters, the retry schedule.

Signatures follow Standard Webhooks (standardwebhooks.com): headers `webhook-id` (the same on every retry of a
message), `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`. A secret written `whsec_<base64>` is used as the decoded bytes, as the reference
libraries do; any other string as its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from datetime import UTC, datetime
from typing import Any

# Seconds to wait after the n-th failed attempt (Standard Webhooks' suggested schedule): the first retry after
# 5 s, the last attempt about 27.6 hours after the first; then the delivery is marked failed.
RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1

_USAGE = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def secret_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except ValueError:
            pass
    return secret.encode()


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(msg_id: str, body: bytes, key: bytes | None, now: float | None = None) -> dict[str, str]:
    ts = int(time.time() if now is None else now)
    out = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "user-agent": "Switchyard-Webhooks/1",
    }
    if key is not None:
        out["webhook-signature"] = sign(key, msg_id, ts, body)
    return out


def next_delay(attempts: int) -> int | None:
    """Seconds until the next try after `attempts` failed ones; None: give up."""
    return RETRY_SCHEDULE[attempts - 1] if 1 <= attempts <= len(RETRY_SCHEDULE) else None


def delivery_id(webhook_id: str, request_uid: str) -> str:
    """Deterministic, so a log batch replayed after a crash queues nothing twice."""
    return "msg_" + hashlib.sha256(f"{webhook_id}\n{request_uid}".encode()).hexdigest()[:32]


def sampled(rate: float, webhook_id: str, request_uid: str) -> bool:
    """Whether a request is in a webhook's sample: a hash, not a dice roll, so a replay decides the same."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    h = int.from_bytes(
        hashlib.blake2b(f"{webhook_id}\n{request_uid}".encode(), digest_size=8).digest(), "big"
    )
    return h < rate * 2**64


def matches(property_filter: dict[str, str], properties: Any) -> bool:
    if not property_filter:
        return True
    props = properties if isinstance(properties, dict) else {}
    return all(props.get(k) == v for k, v in property_filter.items())


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def request_event(record: dict[str, Any], include_bodies: bool) -> dict[str, Any]:
    """The `request.completed` message for one request-log record."""
    data: dict[str, Any] = {
        "id": record["id"],
        "uid": record.get("uid"),
        "org_id": record.get("org_id"),
        "created_at": _iso(record["created_at"]),
        "path": record.get("path"),
        "requested_model": record.get("requested_model"),
        "model": record.get("model"),
        "provider": record.get("provider"),
        "status": record.get("status"),
        "error": record.get("error"),
        "stream": record.get("stream"),
        "cache_hit": record.get("cache_hit"),
        "usage": {k: record.get(k) for k in _USAGE},
        "cost_usd": record.get("cost_usd"),
        "latency_ms": record.get("latency_ms"),
        "ttft_ms": record.get("ttft_ms"),
        "properties": record.get("properties") or {},
        "user_id": record.get("user_id"),
        "session": {
            "id": record.get("session_id"),
            "path": record.get("session_path"),
            "name": record.get("session_name"),
        },
    }
    if include_bodies:
        data["request_body"] = record.get("request_body")
        data["response_body"] = record.get("response_body")
    return {"type": "request.completed", "timestamp": _iso(int(time.time() * 1000)), "data": data}


def alert_event(rule: Any, state: str, value: float | None, now_ms: int) -> dict[str, Any]:
    """An alert's notification; `text` at the top level is what a Slack incoming webhook shows."""
    text = (
        f"Switchyard alert {rule.name!r} {'TRIGGERED' if state == 'firing' else 'resolved'}: {rule.metric} "
        f"over {rule.window_minutes} min is {_fmt(value)} (threshold {_fmt(rule.threshold)})"
    )
    return {
        "type": "alert.triggered" if state == "firing" else "alert.resolved",
        "timestamp": _iso(now_ms),
        "text": text,
        "data": {
            "alert_id": rule.id,
            "name": rule.name,
            "org_id": rule.org_id,
            "metric": rule.metric,
            "window_minutes": rule.window_minutes,
            "threshold": rule.threshold,
            "value": value,
            "state": state,
        },
    }


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.6g}"
