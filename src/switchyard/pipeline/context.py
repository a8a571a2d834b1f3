"""Per-request state: who asked, what they asked for, what each attempt did, what came back."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..observe.cost import Usage
from .auth import Principal
from .headers import HeliconeHeaders


@dataclass(slots=True)
class AttemptLog:
    """One try of one attempt, as the log row lists it (retries and hedged tries are separate entries)."""

    provider: str
    model: str
    source: str | None = None  # model/provider/byok|ptb[/key-id]
    status: int | None = None
    error: str | None = None
    kind: str | None = None
    latency_ms: float | None = None
    retry: int = 0  # 0: first try; n: the n-th retry of the same attempt
    note: str | None = None  # "hedge" (started in parallel), "continuation" (a resumed stream's seam)
    adjustments: list[str] | None = None  # what the gateway changed so the model accepts it (param_rules)
    started: float = field(default_factory=time.perf_counter)  # when this try began (trace spans)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"provider": self.provider, "model": self.model, "status": self.status}
        if self.source is not None:
            d["source"] = self.source
        if self.error is not None:
            d["error"] = self.error
            d["kind"] = self.kind
        if self.latency_ms is not None:
            d["latency_ms"] = round(self.latency_ms, 3)
        if self.retry:
            d["retry"] = self.retry
        if self.note is not None:
            d["note"] = self.note
        if self.adjustments:
            d["adjustments"] = self.adjustments
        return d


@dataclass(slots=True)
class RequestContext:
    path: str
    helicone: HeliconeHeaders
    forward_headers: dict[str, str] = field(default_factory=dict)  # caller headers a native upstream may need
    started: float = field(default_factory=time.perf_counter)
    created_at_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    principal: Principal | None = None
    body: dict[str, Any] | None = None  # what is executed: the parsed caller body unless a step rewrote it
    raw_body: bytes | None = None  # the caller's bytes (inflated when they came compressed)
    rewritten_by: str | None = None  # which step replaced the body ("prompt", "token-limit truncate"), if any
    requested_model: str | None = None
    stream: bool = False
    # outcome
    status: int = 0
    error: str | None = None
    provider: str | None = None
    model: str | None = None  # provider model id that answered
    registry_model: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    response_body: Any = None  # dict, str or bytes
    ttft_ms: float | None = None
    upstream_ms: float = 0.0  # time spent waiting on upstreams (for the overhead figure)
    attempts: list[AttemptLog] = field(default_factory=list)
    options: Any = None  # pipeline.options.RouteOptions
    cache_hit: bool = False
    cost_saved_usd: float | None = None  # a cache hit: what the original call cost
    model_override: Any = None  # pipeline.model_override.ModelOverride (Helicone-Model-Override)
    pinned: bool | None = None  # session affinity (session_pins.py): True = sent first to its pin

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def overhead_ms(self) -> float:
        elapsed = (time.perf_counter() - self.started) * 1000.0  # as elapsed_ms, without a second call
        return max(0.0, elapsed - self.upstream_ms)

    def mark_first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms()
