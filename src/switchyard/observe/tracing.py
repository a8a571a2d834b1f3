"""OpenTelemetry traces: one span per request, one child span per upstream try, GenAI semantic conventions.

Only imported when `otel.endpoint` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) is set (`observe/tracing_setup.py`): a
gateway without telemetry loads nothing of OpenTelemetry and pays one `is None` test per request.

Spans are made after the answer has gone out, from the finished `RequestContext`, with the start and end times
the request and each try really had (the context keeps `perf_counter` stamps; they are mapped onto the wall
clock once per request). Nothing is timed or allocated for tracing while the request runs. The SDK's
`BatchSpanProcessor` queues finished spans and its own thread exports them in batches over OTLP/HTTP, so the
event loop never waits on the collector. A caller's W3C `traceparent` (and `tracestate`) makes the request span
a child of the caller's span.

Attributes: `gen_ai.*` from the GenAI conventions (operation, provider, request/response model, usage,
finish reasons, response id, request parameters, conversation = Helicone session) and `switchyard.*` for what
the conventions have no name for (cost, cache hit, attempt outcome/retry/source, request id, organisation).
Prompt and completion contents (`gen_ai.input.messages`, `gen_ai.output.messages`) only with
`otel.capture_content: true`, and never for a request that asked Helicone to omit them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .body_text import truncated

if TYPE_CHECKING:  # observe never imports the pipeline at run time (the pipeline imports observe)
    from ..pipeline.context import RequestContext

log = logging.getLogger("switchyard.tracing")

# Our provider ids → the conventions' well-known `gen_ai.provider.name` values (others keep our id).
PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
    "google-ai-studio": "gcp.gemini",
    "groq": "groq",
    "deepseek": "deepseek",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "cohere": "cohere",
}
_OPERATIONS = {
    "chat/completions": "chat",
    "completions": "text_completion",
    "messages": "chat",
    "messages/count_tokens": "count_tokens",  # not a generation: no semconv name, so its own
    "responses": "chat",
    "embeddings": "embeddings",
}
_PARAMS = (
    ("max_tokens", ga.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_completion_tokens", ga.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_output_tokens", ga.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", ga.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", ga.GEN_AI_REQUEST_TOP_P),
    ("top_k", ga.GEN_AI_REQUEST_TOP_K),
    ("seed", ga.GEN_AI_REQUEST_SEED),
    ("frequency_penalty", ga.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", ga.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("n", ga.GEN_AI_REQUEST_CHOICE_COUNT),
)
CONTENT_LIMIT = 64 * 1024  # bytes of prompt or completion kept per attribute


def operation_name(path: str) -> str:
    p = path.strip("/")
    if p.startswith("v1/"):
        p = p[3:]
    return _OPERATIONS.get(p, "chat")


class Tracing:
    """Owns a TracerProvider (not the process-global one) and turns finished requests into spans."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        service_name: str = "switchyard",
        capture_content: bool = False,
        schedule_delay_ms: int = 1000,
        processor: Any = None,
    ) -> None:
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}),
            span_limits=SpanLimits(max_span_attribute_length=CONTENT_LIMIT * 2),
        )
        self.provider.add_span_processor(
            processor
            or BatchSpanProcessor(
                exporter,
                schedule_delay_millis=schedule_delay_ms,
                max_queue_size=8192,
                max_export_batch_size=512,
            )
        )
        self.tracer = self.provider.get_tracer("switchyard")
        self.capture_content = capture_content
        self._propagator = TraceContextTextMapPropagator()

    @classmethod
    def otlp(cls, traces_url: str, **kwargs: Any) -> Tracing:
        return cls(OTLPSpanExporter(endpoint=traces_url, timeout=10), **kwargs)

    def shutdown(self) -> None:
        """Export what is queued and stop the export thread (blocking: call it in a thread)."""
        self.provider.shutdown()

    # -- spans ---------------------------------------------------------------------------------------------

    def record(self, ctx: RequestContext, headers: Mapping[str, str]) -> None:
        """The request's span and its tries' child spans, timed as they happened. Never raises: a tracing bug
        is logged, the request it describes has been answered already."""
        try:
            self._record(ctx, headers)
        except Exception:
            log.exception("could not record the trace of request %s", ctx.helicone.request_id)

    def _record(self, ctx: RequestContext, headers: Mapping[str, str]) -> None:
        wall, perf = time.time_ns(), time.perf_counter()

        def at(t: float) -> int:
            return wall - int((perf - t) * 1e9)

        parent = self._propagator.extract(carrier=headers) if "traceparent" in headers else None
        op = operation_name(ctx.path)
        requested = _first_model(ctx.requested_model)
        attrs = self._request_attributes(ctx, op, requested)
        span = self.tracer.start_span(
            f"{op} {requested}" if requested else op,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attrs,
            start_time=at(ctx.started),
        )
        if ctx.status >= 400 or ctx.status == 0:
            span.set_status(Status(StatusCode.ERROR, ctx.error or None))
        child_ctx = trace.set_span_in_context(span)
        for a in ctx.attempts:
            start = at(a.started)
            end = min(start + int((a.latency_ms or 0.0) * 1e6), wall)
            child = self.tracer.start_span(
                f"{op} {a.model}",
                context=child_ctx,
                kind=SpanKind.CLIENT,
                attributes=_attempt_attributes(a, op),
                start_time=start,
            )
            if a.error is not None:
                child.set_status(Status(StatusCode.ERROR, a.error))
            child.end(end_time=end)
        span.end(end_time=wall)

    def _request_attributes(self, ctx: RequestContext, op: str, requested: str | None) -> dict[str, Any]:
        h = ctx.helicone
        attrs: dict[str, Any] = {
            ga.GEN_AI_OPERATION_NAME: op,
            "http.request.method": "POST",
            "url.path": ctx.path,
            "http.response.status_code": ctx.status,
            "switchyard.request_id": h.request_id,
            "switchyard.cache_hit": ctx.cache_hit,
            "switchyard.attempts": len(ctx.attempts),
        }
        if ctx.principal is not None:
            attrs["switchyard.org_id"] = ctx.principal.org.id
        if requested:
            attrs[ga.GEN_AI_REQUEST_MODEL] = requested
        if ctx.provider:
            attrs[ga.GEN_AI_PROVIDER_NAME] = PROVIDER_NAMES.get(ctx.provider, ctx.provider)
            attrs["switchyard.provider"] = ctx.provider
        if ctx.model:
            attrs[ga.GEN_AI_RESPONSE_MODEL] = ctx.model
        if ctx.stream:
            attrs[ga.GEN_AI_REQUEST_STREAM] = True
        if h.session_id:
            attrs[ga.GEN_AI_CONVERSATION_ID] = h.session_id
        body = ctx.body if isinstance(ctx.body, dict) else {}
        for name, attr in _PARAMS:
            v = body.get(name)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                attrs[attr] = v
        _usage(attrs, ctx)
        if ctx.cost_usd is not None:
            attrs["switchyard.cost_usd"] = ctx.cost_usd
        if ctx.cost_saved_usd is not None:
            attrs["switchyard.cost_saved_usd"] = ctx.cost_saved_usd
        if ctx.ttft_ms is not None and ctx.stream:
            attrs[ga.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ctx.ttft_ms / 1000.0
        if ctx.status >= 400 or ctx.status == 0:
            attrs["error.type"] = str(ctx.status or "incomplete")
        response = _response_dict(ctx.response_body) if ctx.status == 200 else None
        if response is not None:
            reasons = finish_reasons(response)
            if reasons:
                attrs[ga.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
            rid = response.get("id")
            if isinstance(rid, str):
                attrs[ga.GEN_AI_RESPONSE_ID] = rid
        if self.capture_content:
            if not h.omit_request and body:
                attrs[ga.GEN_AI_INPUT_MESSAGES] = _content(input_messages(body))
            if not h.omit_response and response is not None:
                attrs[ga.GEN_AI_OUTPUT_MESSAGES] = _content(output_messages(response))
        return attrs


def _attempt_attributes(a: Any, op: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        ga.GEN_AI_OPERATION_NAME: op,
        ga.GEN_AI_PROVIDER_NAME: PROVIDER_NAMES.get(a.provider, a.provider),
        ga.GEN_AI_REQUEST_MODEL: a.model,
        "switchyard.provider": a.provider,
        "switchyard.attempt.outcome": "ok" if a.error is None and a.status == 200 else (a.kind or "error"),
        "switchyard.attempt.retry": a.retry,
    }
    if a.status is not None:
        attrs["http.response.status_code"] = a.status
    if a.source is not None:
        attrs["switchyard.attempt.source"] = a.source
    if a.note is not None:
        attrs["switchyard.attempt.note"] = a.note
    if a.error is not None:
        attrs["error.type"] = a.kind or "error"
    return attrs


def _first_model(requested: str | None) -> str | None:
    """The first model of a fallback list (the whole string is kept on the log row)."""
    return requested.split(",", 1)[0].strip() if requested else None


def _usage(attrs: dict[str, Any], ctx: RequestContext) -> None:
    u = ctx.usage
    if u is None:
        return
    attrs[ga.GEN_AI_USAGE_INPUT_TOKENS] = u.prompt_tokens
    attrs[ga.GEN_AI_USAGE_OUTPUT_TOKENS] = u.completion_tokens
    if u.cached_tokens:
        attrs[ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = u.cached_tokens
    if u.cache_write_tokens:
        attrs[ga.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = u.cache_write_tokens
    if u.reasoning_tokens:
        attrs[ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = u.reasoning_tokens


def _response_dict(body: Any) -> dict[str, Any] | None:
    if isinstance(body, dict):
        return body
    if isinstance(body, (bytes, str)) and body[:1] in (b"{", "{"):
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def finish_reasons(response: dict[str, Any]) -> list[str]:
    """OpenAI chat/completions `choices[].finish_reason`, Anthropic `stop_reason`, Responses `status`."""
    choices = response.get("choices")
    if isinstance(choices, list):
        return [str(c["finish_reason"]) for c in choices if isinstance(c, dict) and c.get("finish_reason")]
    for key in ("stop_reason", "status"):
        if isinstance(response.get(key), str):
            return [response[key]]
    return []


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list):
        out = []
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                out.append({"type": "text", "content": block["text"]})
            elif isinstance(block, dict):
                out.append({"type": str(block.get("type", "unknown"))})
        return out
    return []


def input_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's messages in the conventions' shape: [{role, parts: [{type, content}]}]."""
    out: list[dict[str, Any]] = []
    if isinstance(body.get("system"), (str, list)):  # Anthropic's top-level system prompt
        out.append({"role": "system", "parts": _parts(body["system"])})
    messages = body.get("messages")
    if isinstance(messages, list):
        out += [
            {"role": str(m.get("role", "user")), "parts": _parts(m.get("content"))}
            for m in messages
            if isinstance(m, dict)
        ]
    for key in ("prompt", "input"):
        if isinstance(body.get(key), str):
            out.append({"role": "user", "parts": _parts(body[key])})
    return out


def output_messages(response: dict[str, Any]) -> list[dict[str, Any]]:
    choices = response.get("choices")
    if isinstance(choices, list):
        out = []
        for c in choices:
            if not isinstance(c, dict):
                continue
            msg = m if isinstance(m := c.get("message"), dict) else {"content": c.get("text")}
            out.append(
                {
                    "role": str(msg.get("role", "assistant")),
                    "parts": _parts(msg.get("content")),
                    "finish_reason": c.get("finish_reason"),
                }
            )
        return out
    if isinstance(response.get("content"), list):  # Anthropic messages
        return [
            {
                "role": "assistant",
                "parts": _parts(response["content"]),
                "finish_reason": response.get("stop_reason"),
            }
        ]
    if isinstance(response.get("output_text"), str):
        return [{"role": "assistant", "parts": _parts(response["output_text"])}]
    return []


def _content(value: Any) -> str:
    return truncated(orjson.dumps(value).decode(), CONTENT_LIMIT)
