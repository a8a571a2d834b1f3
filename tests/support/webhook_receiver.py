"""Loopback receivers for what the gateway sends out: webhooks (JSON POSTs, kept with their headers) and
OpenTelemetry traces (OTLP/HTTP protobuf, decoded with the OTLP exporter's own opentelemetry-proto classes)."""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .threaded_app import LoopbackServer, ThreadedApp


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver(LoopbackServer):
    """Answers every POST with `status` (200 by default) and keeps what it got."""

    def __init__(self) -> None:
        self.got: list[Received] = []
        self.status = 200
        self._lock = threading.Lock()
        self._app = ThreadedApp(self._handle, name="webhook-receiver", max_body=16 << 20)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.got.append(Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body))
        return web.Response(status=self.status, text="ok")

    def wait(self, pred: Any, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                hits = [r for r in self.got if pred(r)]
            if hits:
                return hits
            time.sleep(0.05)
        raise AssertionError(f"nothing matching arrived in {timeout}s; got {len(self.got)} posts")


class OtlpReceiver(LoopbackServer):
    """An OTLP/HTTP trace endpoint (`POST /v1/traces`, protobuf) that decodes each export into spans."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        self._msg = ExportTraceServiceRequest
        self.spans: list[dict[str, Any]] = []
        self.exports = 0
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._app = ThreadedApp(self._handle, name="otlp-receiver", max_body=64 << 20)

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if request.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        assert request.headers.get("content-type") == "application/x-protobuf", request.headers
        req = self._msg()
        req.ParseFromString(raw)
        spans = []
        for rs in req.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans.append(
                        {
                            "name": s.name,
                            "trace_id": s.trace_id.hex(),
                            "span_id": s.span_id.hex(),
                            "parent_span_id": s.parent_span_id.hex(),
                            "kind": s.kind,
                            "start": s.start_time_unix_nano,
                            "end": s.end_time_unix_nano,
                            "status": s.status.code,
                            "resource": resource,
                            "scope": ss.scope.name,
                            "attributes": {a.key: _value(a.value) for a in s.attributes},
                        }
                    )
        with self._lock:
            self.exports += 1
            self.paths.append(request.path)
            self.spans += spans
        return web.Response(status=200, body=b"", content_type="application/x-protobuf")

    def wait_spans(self, pred: Any, n: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                hits = [s for s in self.spans if pred(s)]
            if len(hits) >= n:
                return hits
            time.sleep(0.05)
        raise AssertionError(f"{n} matching spans did not arrive in {timeout}s; got {len(self.spans)} spans")


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None
