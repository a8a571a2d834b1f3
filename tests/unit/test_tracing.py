"""OpenTelemetry spans from a finished request, checked with the SDK's in-memory exporter; the W3C traceparent
continues the caller's trace; contents only when switched on; and nothing of OpenTelemetry loaded when off. (What tracing
costs per request, off and on, is measured by bench/tracing_overhead.py, not asserted here.)"""

from __future__ import annotations

import subprocess
import sys
import time

import orjson
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from switchyard.config import Settings
from switchyard.observe.cost import Usage
from switchyard.observe.tracing import Tracing, finish_reasons, operation_name
from switchyard.observe.tracing_setup import build_tracing, traces_url
from switchyard.pipeline.context import AttemptLog, RequestContext
from switchyard.pipeline.headers import parse_helicone

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
BODY = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "secret prompt"}],
    "temperature": 0.2,
    "max_tokens": 50,
}
ANSWER = {
    "id": "chatcmpl-1",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "secret answer"}, "finish_reason": "stop"}
    ],
}


def _tracing(capture: bool = False) -> tuple[Tracing, InMemorySpanExporter]:
    exp = InMemorySpanExporter()
    return Tracing(exp, capture_content=capture, processor=SimpleSpanProcessor(exp)), exp


def _ctx(headers: dict[str, str]) -> RequestContext:
    ctx = RequestContext(path="/v1/chat/completions", helicone=parse_helicone(headers), body=BODY)
    ctx.requested_model = "gpt-4o-mini,claude-3-5-haiku"
    failed = AttemptLog(
        "anthropic",
        "claude-3-5-haiku",
        "claude/anthropic/ptb",
        status=529,
        error="overloaded",
        kind="overloaded",
        latency_ms=12.0,
    )
    ok = AttemptLog("openai", "gpt-4o-mini", "gpt-4o-mini/openai/ptb", status=200, latency_ms=30.0, retry=1)
    now = time.perf_counter()  # the request began 100 ms ago; its tries at +5 ms and +20 ms
    ctx.started, failed.started, ok.started = now - 0.1, now - 0.095, now - 0.08
    ctx.attempts = [failed, ok]
    ctx.status, ctx.provider, ctx.model = 200, "openai", "gpt-4o-mini-2024-07-18"
    ctx.usage = Usage(prompt_tokens=11, completion_tokens=7, total_tokens=18, cached_tokens=3)
    ctx.cost_usd = 0.0000123
    ctx.response_body = orjson.dumps(ANSWER)  # what a non-streamed answer keeps: the bytes sent
    return ctx


def test_request_span_and_one_child_per_attempt_with_genai_attributes():
    tracing, exp = _tracing()
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT}-01", "helicone-session-id": "sess-9"}
    tracing.record(_ctx(headers), headers)
    spans = exp.get_finished_spans()
    assert len(spans) == 3
    root = next(s for s in spans if s.kind == SpanKind.SERVER)
    kids = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert root.name == "chat gpt-4o-mini"
    assert (
        f"{root.context.trace_id:032x}" == TRACE_ID and f"{root.parent.span_id:016x}" == PARENT
    )  # caller's trace
    a = root.attributes
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "openai"
    assert (
        a["gen_ai.request.model"] == "gpt-4o-mini" and a["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    )
    assert a["gen_ai.usage.input_tokens"] == 11 and a["gen_ai.usage.output_tokens"] == 7
    assert a["gen_ai.usage.cache_read.input_tokens"] == 3
    assert tuple(a["gen_ai.response.finish_reasons"]) == ("stop",) and a["gen_ai.response.id"] == "chatcmpl-1"
    assert a["gen_ai.request.temperature"] == 0.2 and a["gen_ai.request.max_tokens"] == 50
    assert a["gen_ai.conversation.id"] == "sess-9"
    assert a["switchyard.cost_usd"] == 0.0000123 and a["switchyard.cache_hit"] is False
    assert a["http.response.status_code"] == 200 and a["switchyard.attempts"] == 2
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a  # contents off by default
    for k in kids:
        assert k.parent.span_id == root.context.span_id and k.context.trace_id == root.context.trace_id
        assert root.start_time <= k.start_time <= k.end_time <= root.end_time
    bad, good = sorted(kids, key=lambda s: s.start_time)
    assert bad.attributes["gen_ai.provider.name"] == "anthropic"
    assert (
        bad.attributes["switchyard.attempt.outcome"] == "overloaded"
        and bad.status.status_code == StatusCode.ERROR
    )
    assert bad.attributes["error.type"] == "overloaded" and bad.attributes["http.response.status_code"] == 529
    assert (
        good.attributes["switchyard.attempt.outcome"] == "ok"
        and good.attributes["switchyard.attempt.retry"] == 1
    )
    assert good.attributes["switchyard.attempt.source"] == "gpt-4o-mini/openai/ptb"
    assert abs((good.end_time - good.start_time) / 1e6 - 30.0) < 0.01


def test_without_traceparent_a_new_trace_starts():
    tracing, exp = _tracing()
    tracing.record(_ctx({}), {})
    root = next(s for s in exp.get_finished_spans() if s.kind == SpanKind.SERVER)
    assert root.parent is None and f"{root.context.trace_id:032x}" != TRACE_ID


def test_contents_only_when_switched_on_and_not_when_omitted():
    tracing, exp = _tracing(capture=True)
    tracing.record(_ctx({}), {})
    a = next(s for s in exp.get_finished_spans() if s.kind == SpanKind.SERVER).attributes
    assert orjson.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "secret prompt"}]}
    ]
    out = orjson.loads(a["gen_ai.output.messages"])
    assert out[0]["parts"][0]["content"] == "secret answer" and out[0]["finish_reason"] == "stop"
    exp.clear()
    omit = {"helicone-omit-request": "true", "helicone-omit-response": "true"}
    tracing.record(_ctx(omit), omit)
    a = next(s for s in exp.get_finished_spans() if s.kind == SpanKind.SERVER).attributes
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a


def test_failed_request_is_an_error_span():
    tracing, exp = _tracing()
    ctx = _ctx({})
    ctx.status, ctx.error, ctx.usage, ctx.response_body = 429, "rate limited", None, None
    tracing.record(ctx, {})
    root = next(s for s in exp.get_finished_spans() if s.kind == SpanKind.SERVER)
    assert root.status.status_code == StatusCode.ERROR and root.attributes["error.type"] == "429"


def test_a_token_count_is_not_named_a_chat():
    """count_tokens goes through the proxy pipeline (and so is traced) but generates nothing."""
    assert [operation_name(p) for p in ("/v1/messages/count_tokens", "/messages", "/v1/embeddings")] == [
        "count_tokens",
        "chat",
        "embeddings",
    ]


def test_finish_reasons_of_each_format():
    assert finish_reasons({"choices": [{"finish_reason": "length"}, {"finish_reason": "stop"}]}) == [
        "length",
        "stop",
    ]
    assert finish_reasons({"stop_reason": "end_turn"}) == ["end_turn"]
    assert finish_reasons({"status": "completed"}) == ["completed"]


def test_endpoint_from_config_or_standard_environment():
    assert traces_url("http://c:4318/", {}) == "http://c:4318/v1/traces"
    assert traces_url(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:4318"}) == "http://e:4318/v1/traces"
    assert traces_url(None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x"}) == "http://t/x"
    assert traces_url(None, {}) is None
    assert build_tracing(Settings(), {}) is None


def test_tracing_off_loads_no_opentelemetry_module():
    """With no endpoint the gateway builds its whole dependency set without importing our tracing module or the
    OpenTelemetry SDK's tracing (redis-py may import OpenTelemetry's metrics API on its own when installed)."""
    code = (
        "import sys, switchyard.app, switchyard.deps\n"
        "from switchyard.config import Settings\n"
        "from switchyard.observe.tracing_setup import build_tracing\n"
        "assert build_tracing(Settings(), {}) is None\n"
        "bad = [m for m in sys.modules if m == 'switchyard.observe.tracing' or m.startswith('opentelemetry.sdk.trace')"
        " or m.startswith('opentelemetry.exporter')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
