"""Whether to trace, and where to: imports OpenTelemetry only when tracing is configured.

`otel.endpoint` in the config, else the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full traces URL) or
`OTEL_EXPORTER_OTLP_ENDPOINT` (the base URL, `/v1/traces` appended) from the gateway's environment. Without any
of them this returns None and no OpenTelemetry module is ever loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def traces_url(endpoint: str | None, env: Mapping[str, str]) -> str | None:
    if endpoint:
        return endpoint.rstrip("/") + "/v1/traces"
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return base.rstrip("/") + "/v1/traces" if base else None


def build_tracing(settings: Any, env: Mapping[str, str]) -> Any:
    """A `tracing.Tracing` exporting to the configured collector, or None when tracing is off."""
    o = settings.otel
    url = traces_url(o.endpoint, env)
    if url is None:
        return None
    from .tracing import Tracing  # the only place OpenTelemetry gets imported

    return Tracing.otlp(
        url,
        service_name=o.service_name,
        capture_content=o.capture_content,
        schedule_delay_ms=o.schedule_delay_ms,
    )
