"""Structured access log: `access_log: {format: json}` writes one JSON line per proxied request to standard output.

The line is logged at INFO on the `switchyard.access` logger, whose own handler writes just the JSON (no
prefix) to stdout; it does not propagate, so it never mixes with the server log on stderr. Formatting happens on
the event loop (one orjson call, a few µs); the write itself goes through a QueueHandler to a listener thread, so
a slow pipe to a log shipper never stalls requests. Every value is JSON-escaped, so a caller's model string
cannot forge a line. Never in it: keys, bodies, user ids, properties (those are in the request log).
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
import time
from typing import Any, TextIO

import orjson

from .metrics_families import SURFACES

LOGGER = "switchyard.access"


class AccessLog:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        out = logging.StreamHandler(stream if stream is not None else sys.stdout)
        out.setFormatter(logging.Formatter("%(message)s"))
        self._listener = logging.handlers.QueueListener(self._queue, out)
        self._log = logging.getLogger(LOGGER)
        self._log.setLevel(logging.INFO)
        self._log.propagate = False
        self._handler = logging.handlers.QueueHandler(self._queue)
        self._log.addHandler(self._handler)
        self._listener.start()

    @classmethod
    def build(cls, settings: Any) -> AccessLog | None:
        return cls() if settings.access_log.format == "json" else None

    def write(self, ctx: Any, cache: str) -> None:
        principal = ctx.principal
        usage = ctx.usage
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ctx.created_at_ms / 1000))
            + f".{ctx.created_at_ms % 1000:03d}Z",
            "level": "info",
            "msg": "request",
            "id": ctx.helicone.request_id,
            "org": principal.org.id if principal is not None else None,
            "surface": SURFACES.get(ctx.path, "other"),
            "model": ctx.requested_model,
            "provider": ctx.provider,
            "provider_model": ctx.model,
            "status": ctx.status,
            "stream": ctx.stream,
            "cache": cache,
            "latency_ms": round(ctx.elapsed_ms(), 3),
            "ttft_ms": round(ctx.ttft_ms, 3) if ctx.ttft_ms is not None else None,
            "attempts": len(ctx.attempts),
            "input_tokens": usage.prompt_tokens if usage is not None else None,
            "output_tokens": usage.completion_tokens if usage is not None else None,
            "cached_tokens": usage.cached_tokens if usage is not None else None,
            "reasoning_tokens": usage.reasoning_tokens if usage is not None else None,
            "cost_usd": ctx.cost_usd,
            "error": ctx.error,
        }
        self._log.info(orjson.dumps(line).decode())

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._log.removeHandler(self._handler)
        self._listener.stop()
