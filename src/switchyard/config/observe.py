"""What the gateway tells operators: /metrics, the access log, OpenTelemetry traces, alert evaluation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import Strict, long_secret


class MetricsSettings(Strict):
    # GET /metrics answers only to `Authorization: Bearer <token>` when set (e.g. "${SWITCHYARD_METRICS_TOKEN}");
    # unset: open, as Prometheus scrapes usually are on a private network.
    token: str | None = None
    # With `serve --workers N`, each worker writes its totals for the others to read this often (a scrape sees
    # other workers' counts at most this old; its own are always current).
    flush_interval_ms: int = Field(1000, ge=50, le=60_000)

    @field_validator("token")
    @classmethod
    def _length(cls, v: str | None) -> str | None:
        return long_secret(v, "the metrics token")


class AccessLogSettings(Strict):
    # "json": one JSON line per proxied request on standard output (id, org, model, provider, status, latency,
    # tokens, cost), for log shippers; "off": none.
    format: Literal["off", "json"] = "off"


class OtelSettings(Strict):
    # OpenTelemetry traces (GenAI conventions) exported over OTLP/HTTP to this base URL (".../v1/traces" is
    # appended), e.g. "http://collector:4318"; unset: $OTEL_EXPORTER_OTLP_ENDPOINT, else no tracing at all.
    endpoint: str | None = None
    service_name: str = "switchyard"
    capture_content: bool = False  # prompts and completions as span attributes (gen_ai.input/output.messages)
    schedule_delay_ms: int = Field(1000, ge=10, le=60_000)  # how often the batch processor exports


class AlertSettings(Strict):
    # How often alert rules are evaluated (one replica at a time, under a lease in the database).
    interval_seconds: float = Field(10.0, gt=0, le=15)
