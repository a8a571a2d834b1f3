"""OpenTelemetry end to end: a real gateway exports its spans over OTLP/HTTP to a loopback receiver that decodes
the protobuf (opentelemetry-proto's own classes); the caller's traceparent continues its trace; a fallback shows
as two attempt spans; the endpoint also comes from the standard OTEL_EXPORTER_OTLP_ENDPOINT."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.webhook_receiver import OtlpReceiver

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi there"}]}


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def gw(upstream, otlp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    cfg = default_config(
        upstream.url,
        free_port(),
        otel={"endpoint": otlp.url, "service_name": "sy-e2e", "schedule_delay_ms": 100},
    )
    # an OpenAI-format provider nothing listens for: its attempt fails to connect and the chain moves on
    cfg["providers"]["dead"] = {
        "format": "openai",
        "base_url": f"http://127.0.0.1:{free_port()}/v1",
        "api_key": "x",
    }
    g = GatewayProcess(tmp_path_factory.mktemp("otel"), cfg)
    g.prepare()
    g.start()
    yield g
    g.stop()


def test_request_and_attempt_spans_reach_a_real_otlp_receiver(gw, otlp):
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        json=CHAT,
        timeout=30,
        headers={
            **gw.headers(),
            "traceparent": f"00-{TRACE_ID}-{PARENT}-01",
            "Helicone-Session-Id": "conv-7",
        },
    )
    assert r.status_code == 200, r.text
    rid = r.headers["helicone-id"]
    root = otlp.wait_spans(lambda s: s["attributes"].get("switchyard.request_id") == rid)[0]
    assert root["trace_id"] == TRACE_ID and root["parent_span_id"] == PARENT  # the caller's trace goes on
    assert root["kind"] == 2 and root["name"] == "chat gpt-4o-mini"  # SPAN_KIND_SERVER
    assert root["resource"]["service.name"] == "sy-e2e" and root["scope"] == "switchyard"
    a = root["attributes"]
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o-mini" and a["gen_ai.response.model"]
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["gen_ai.response.finish_reasons"] == ["stop"] and a["gen_ai.conversation.id"] == "conv-7"
    assert a["switchyard.cost_usd"] > 0 and a["switchyard.cache_hit"] is False
    assert "gen_ai.input.messages" not in a  # contents are off unless otel.capture_content
    kids = otlp.wait_spans(lambda s: s["parent_span_id"] == root["span_id"])
    assert len(kids) == 1
    k = kids[0]
    assert k["kind"] == 3 and k["trace_id"] == TRACE_ID  # SPAN_KIND_CLIENT
    assert (
        k["attributes"]["switchyard.attempt.outcome"] == "ok"
        and k["attributes"]["http.response.status_code"] == 200
    )
    assert root["start"] <= k["start"] <= k["end"] <= root["end"]
    assert set(otlp.paths) == {"/v1/traces"}


def test_a_fallback_is_two_attempt_spans(gw, otlp):
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        timeout=30,
        headers=gw.headers(),
        json={**CHAT, "model": "llama3/dead,gpt-4o-mini"},
    )
    rid = r.headers["helicone-id"]
    root = otlp.wait_spans(lambda s: s["attributes"].get("switchyard.request_id") == rid)[0]
    kids = otlp.wait_spans(
        lambda s: s["parent_span_id"] == root["span_id"], n=root["attributes"]["switchyard.attempts"]
    )
    assert r.status_code == 200, r.text
    outcomes = [k["attributes"]["switchyard.attempt.outcome"] for k in sorted(kids, key=lambda s: s["start"])]
    assert len(kids) == 2 and outcomes == ["connection", "ok"]
    first = min(kids, key=lambda s: s["start"])
    assert first["status"] == 2 and first["attributes"]["gen_ai.provider.name"] == "dead"  # STATUS_CODE_ERROR


def test_standard_environment_variable_turns_tracing_on(upstream, otlp, tmp_path):
    g = GatewayProcess(
        tmp_path / "gw",
        default_config(upstream.url, free_port()),
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url},
    )
    g.prepare()
    g.start()
    try:
        r = httpx.post(f"{g.url}/v1/chat/completions", json=CHAT, headers=g.headers(), timeout=30)
        assert r.status_code == 200
        rid = r.headers["helicone-id"]
    finally:
        g.stop()  # shutdown exports what is still queued (the default batch delay is a second)
    root = otlp.wait_spans(lambda s: s["attributes"].get("switchyard.request_id") == rid)[0]
    assert root["parent_span_id"] == "" and root["resource"]["service.name"] == "switchyard"
