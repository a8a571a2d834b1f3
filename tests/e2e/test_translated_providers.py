"""Chat-completions callers served by Anthropic and Gemini upstreams (recorded traffic), through the real gateway."""

from __future__ import annotations

import json

import openai
import pytest

from support.wire import exchange, stream


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)


def test_anthropic_non_stream(client, gateway, upstream):
    recorded = exchange("anthropic/messages.json")["response"]["body"]
    raw = client.chat.completions.with_raw_response.create(
        model="claude-sonnet-4/anthropic",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "".join(
        b["text"] for b in recorded["content"] if b["type"] == "text"
    )
    sent = upstream.last("/anthropic/v1/messages")
    assert sent.headers["x-api-key"] == "sk-ant-upstream-secret-0002"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body["system"] == "Be brief."
    assert sent.body["messages"] == [{"role": "user", "content": "What is the capital of France?"}]
    assert sent.body["max_tokens"] > 0
    row = gateway.wait_row(raw.headers["helicone-id"])
    assert row["provider"] == "anthropic" and row["response_status"] == 200
    usage = recorded["usage"]
    assert row["completion_tokens"] == usage["output_tokens"]
    assert row["costUSD"] > 0


def test_anthropic_tool_use_non_stream(client):
    recorded = exchange("anthropic/messages_tool_use.json")["response"]["body"]
    tool = next(b for b in recorded["content"] if b["type"] == "tool_use")
    completion = client.chat.completions.create(
        model="claude-sonnet-4/anthropic",
        messages=[{"role": "user", "content": "use the tool [[tools]]"}],
        tools=[{"type": "function", "function": {"name": tool["name"], "parameters": {"type": "object"}}}],
    )
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == tool["name"] and json.loads(call.function.arguments) == tool["input"]


def test_anthropic_stream_with_tool_use(client, gateway):
    args, text, finish = "", "", None
    with client.chat.completions.with_streaming_response.create(
        model="claude-sonnet-4/anthropic",
        messages=[{"role": "user", "content": "weather? [[tools]]"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as resp:
        rid = resp.headers["helicone-id"]
        chunks = list(resp.parse())
    for c in chunks:
        for ch in c.choices:
            text += ch.delta.content or ""
            finish = ch.finish_reason or finish
            for tc in ch.delta.tool_calls or ():
                args += tc.function.arguments or ""
    assert finish == "tool_calls"
    assert json.loads(args) == {"location": "Paris"}  # as recorded, reassembled from input_json_delta pieces
    assert chunks[-1].usage is not None
    row = gateway.wait_row(rid)
    assert row["stream"] and row["completion_tokens"] == chunks[-1].usage.completion_tokens


def test_gemini_non_stream_and_stream(client, gateway, upstream):
    recorded = exchange("gemini/generate_content.json")["response"]["body"]
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash/google-ai-studio", messages=[{"role": "user", "content": "hello"}]
    )
    completion = raw.parse()
    parts = recorded["candidates"][0]["content"]["parts"]
    assert completion.choices[0].message.content == "".join(
        p.get("text", "") for p in parts if not p.get("thought")
    )
    sent = upstream.last(":generateContent")
    assert sent.headers["x-goog-api-key"] == "AIzaUpstreamSecret0003xyz"
    assert "key=" not in sent.path
    assert (
        gateway.wait_row(raw.headers["helicone-id"])["prompt_tokens"]
        == recorded["usageMetadata"]["promptTokenCount"]
    )

    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="gemini-2.5-flash/google-ai-studio",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
        if c.choices
    )
    expected = ""
    for line in stream("gemini/stream_generate_content.sse").decode().splitlines():
        if line.startswith("data: "):
            for p in json.loads(line[6:])["candidates"][0]["content"].get("parts", []):
                expected += p.get("text", "") if not p.get("thought") else ""
    assert text == expected
