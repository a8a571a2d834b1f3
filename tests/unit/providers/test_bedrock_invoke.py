"""Claude on Bedrock for Anthropic callers (InvokeModel): the request, and the event-stream → Anthropic SSE
reframing, checked against a recorded Anthropic stream wrapped the way Bedrock documents (SYNTHETIC framing)."""

from __future__ import annotations

import base64

import orjson
import pytest

from fixtures.synthetic.bedrock.eventstream import encode
from support.wire import sse_events, stream
from switchyard.pipeline.stream_pumps import ReframingPump
from switchyard.providers.base import Target, UpstreamError
from switchyard.providers.bedrock import BedrockProvider

TARGET = Target(
    provider="bedrock",
    model="anthropic.claude-sonnet-4-20250514-v1:0",
    format="bedrock",
    base_url="https://bedrock-runtime.{region}.amazonaws.com",
    api_key="AKIDEXAMPLE",
    auth="aws-sigv4",
    config={"region": "us-west-2", "secret_key": "s"},
)
BODY = {
    "model": "claude-sonnet-4",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hi"}],
    "stream": True,
}


def test_only_claude_is_served_natively():
    p = BedrockProvider()
    assert p.serves_natively(TARGET, "messages")
    other = Target(
        provider="bedrock", model="meta.llama3-3-70b-instruct-v1:0", format="bedrock", base_url="x"
    )
    assert not p.serves_natively(other, "messages")
    assert not p.serves_natively(TARGET, "chat")


def test_request_body_and_url():
    req = BedrockProvider().native_request(BODY, TARGET, "messages", {"anthropic-beta": "a-1, b-2"})
    assert req.url == (
        "https://bedrock-runtime.us-west-2.amazonaws.com/model/"
        "anthropic.claude-sonnet-4-20250514-v1%3A0/invoke-with-response-stream"
    )
    assert orjson.loads(req.body) == {
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": ["a-1", "b-2"],
    }
    assert req.stream


def _wrapped(name: str) -> bytes:
    items = [
        {"event": "chunk", "payload": {"bytes": base64.b64encode(orjson.dumps(ev)).decode()}}
        for ev in sse_events(stream(name))
    ]
    return encode(items)


@pytest.mark.parametrize("step", [1, 7, 1 << 20])
def test_stream_reframed_to_anthropic_sse(step):
    p = BedrockProvider()
    pump = ReframingPump(p.native_reframer("messages"), p.native_parser("messages"))
    data = _wrapped("anthropic/messages_stream_tool_use.sse")
    out = b"".join(pump.feed(data[i : i + step]) for i in range(0, len(data), step)) + pump.close()
    assert sse_events(out) == sse_events(stream("anthropic/messages_stream_tool_use.sse"))
    assert out.startswith(b"event: message_start\ndata: ")
    assert pump.usage and pump.usage["completion_tokens"] > 0
    assert pump.result()["choices"][0]["finish_reason"] == "tool_calls"


def test_exception_frame_raises():
    p = BedrockProvider()
    pump = ReframingPump(p.native_reframer("messages"), p.native_parser("messages"))
    with pytest.raises(UpstreamError) as info:
        pump.feed(encode([{"exception": "throttlingException", "payload": {"message": "slow down"}}]))
    assert info.value.kind == "rate_limited"
