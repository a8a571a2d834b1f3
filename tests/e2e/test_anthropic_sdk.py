"""The official `anthropic` Python SDK against a real gateway's `/v1/messages`, replaying recorded traffic.

Native mode (`Helicone-Gateway-Body-Mapping: NO_MAPPING`, an Anthropic model): the caller's body reaches
Anthropic with only `model` rewritten and the answer comes back untouched. Mapped mode (no header, a model served
by another provider): the gateway translates Anthropic Messages ⇄ OpenAI chat, so the SDK still gets well-formed
Anthropic messages and stream events.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from support.wire import exchange, sse_events, stream

NO_MAPPING = {"Helicone-Gateway-Body-Mapping": "NO_MAPPING"}

MESSAGE = exchange("anthropic/messages.json")["response"]["body"]
MESSAGE_TOOLS = exchange("anthropic/messages_tool_use.json")["response"]["body"]
OPENAI_CHAT = exchange("openai/chat_completion.json")["response"]["body"]
OPENAI_TOOLS = exchange("openai/chat_completion_tool_calls.json")["response"]["body"]

# Anthropic model strings → the id the registry sends upstream (src/switchyard/registry/models.yaml).
NATIVE_MODELS = {
    "claude-sonnet-4/anthropic": "claude-sonnet-4-20250514",
    "claude-3-7-sonnet-20250219/anthropic": "claude-3-7-sonnet-20250219",  # the seed's model string (an alias)
}

TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather for a location",
        "input_schema": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    }
]


def anthropic_cost(inp: int, out: int) -> float:
    return (inp * 3.00 + out * 15.00) / 1e6  # Claude Sonnet 4 / 3.7 Sonnet on Anthropic: USD per 1M tokens


def openai_cost(inp: int, out: int) -> float:
    return (inp * 0.15 + out * 0.60) / 1e6  # gpt-4o-mini on OpenAI


def recorded_anthropic_stream(name: str) -> dict[str, Any]:
    """What an Anthropic recording amounts to: text, tool inputs, usage, stop reason."""
    text, tools, usage, stop = "", {}, {}, None
    for ev in sse_events(stream(name)):
        t = ev.get("type")
        if t == "message_start":
            usage.update(ev["message"]["usage"])
        elif t == "content_block_start" and ev["content_block"]["type"] == "tool_use":
            tools[ev["index"]] = {
                "id": ev["content_block"]["id"],
                "name": ev["content_block"]["name"],
                "json": "",
            }
        elif t == "content_block_delta" and ev["delta"]["type"] == "text_delta":
            text += ev["delta"]["text"]
        elif t == "content_block_delta" and ev["delta"]["type"] == "input_json_delta":
            tools[ev["index"]]["json"] += ev["delta"]["partial_json"]
        elif t == "message_delta":
            usage.update(ev["usage"])
            stop = ev["delta"]["stop_reason"]
    calls = [
        {"id": c["id"], "name": c["name"], "input": json.loads(c["json"] or "{}")}
        for _, c in sorted(tools.items())
    ]
    return {"text": text, "tools": calls, "usage": usage, "stop_reason": stop}


def recorded_openai_stream(name: str) -> dict[str, Any]:
    text, calls, usage, finish = "", {}, None, None
    for chunk in sse_events(stream(name)):
        usage = chunk.get("usage") or usage
        for ch in chunk.get("choices") or ():
            text += ch["delta"].get("content") or ""
            finish = ch.get("finish_reason") or finish
            for tc in ch["delta"].get("tool_calls") or ():
                c = calls.setdefault(tc["index"], {"id": None, "name": "", "arguments": ""})
                c["id"] = tc.get("id") or c["id"]
                c["name"] += tc.get("function", {}).get("name") or ""
                c["arguments"] += tc.get("function", {}).get("arguments") or ""
    tools = [
        {"id": c["id"], "name": c["name"], "input": json.loads(c["arguments"])}
        for _, c in sorted(calls.items())
    ]
    return {"text": text, "tools": tools, "usage": usage, "finish_reason": finish}


STREAM_TEXT = recorded_anthropic_stream("anthropic/messages_stream_text.sse")
STREAM_TOOLS = recorded_anthropic_stream("anthropic/messages_stream_tool_use.sse")
OPENAI_STREAM = recorded_openai_stream("openai/chat_completion_stream_usage.sse")
OPENAI_STREAM_TOOLS = recorded_openai_stream("openai/chat_completion_stream_parallel_tool_calls.sse")


@pytest.fixture(autouse=True)
def _no_ambient_anthropic_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK reads these from the environment and would send them next to the key under test.
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def native(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=gateway.key, base_url=gateway.url, default_headers=NO_MAPPING, max_retries=0
    )


@pytest.fixture
def mapped(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=gateway.key, base_url=gateway.url, max_retries=0)


def _messages_since(upstream, before: int, fragment: str) -> list[Any]:
    return [s for s in upstream.seen[before:] if fragment in s.path]


# -- native (NO_MAPPING) -------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", list(NATIVE_MODELS))
def test_native_create_passes_the_body_through(native, gateway, upstream, model):
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": 256,
        "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}
        ],
        "stop_sequences": ["\n\nHuman:"],
        "metadata": {"user_id": "user-77"},
    }
    # this SDK version has no `temperature`/`top_k` keywords any more: they ride in extra_body, as callers send them
    extra = {"temperature": 0.3, "top_k": 5, "some_future_param": {"x": 1}}
    raw = native.messages.with_raw_response.create(**params, extra_body=extra)
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == MESSAGE["content"][0]["text"]
    assert message.id == MESSAGE["id"]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (20, 10)
    assert raw.headers["helicone-provider"] == "anthropic"

    sent = upstream.last("/messages")
    assert sent.path == "/anthropic/v1/messages"
    assert sent.body == {**params, **extra, "model": NATIVE_MODELS[model]}
    assert sent.headers["x-api-key"] == "sk-ant-upstream-secret-0002"
    assert sent.headers["anthropic-version"]
    assert not any(k.startswith("helicone-") for k in sent.headers)
    assert "authorization" not in sent.headers  # the gateway key never reaches the provider

    row = gateway.wait_row(raw.headers["helicone-id"])
    assert row["response_status"] == 200
    assert row["request_path"] == "/v1/messages"
    assert row["request_model"] == model
    assert row["provider"] == "anthropic"
    assert row["stream"] is False
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (20, 10, 30)
    assert row["costUSD"] == pytest.approx(anthropic_cost(20, 10))
    assert row["request_body"]["messages"] == params["messages"]
    assert row["response_body"] == MESSAGE  # the provider's answer, untouched
    assert [(a["provider"], a["model"], a["status"]) for a in row["attempts"]] == [
        ("anthropic", NATIVE_MODELS[model], 200)
    ]


def test_native_answer_bytes_are_the_providers(gateway):
    r = httpx.post(
        f"{gateway.url}/v1/messages",
        headers={"x-api-key": gateway.key, "anthropic-version": "2023-06-01", **NO_MAPPING},
        json={
            "model": "claude-sonnet-4/anthropic",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        },
        timeout=10,
    )
    assert r.status_code == 200
    assert r.json() == MESSAGE


def test_native_stream_helper(native, gateway, upstream):
    with native.messages.stream(
        model="claude-sonnet-4/anthropic", max_tokens=128, messages=[{"role": "user", "content": "1 + 1?"}]
    ) as s:
        request_id = s.response.headers["helicone-id"]
        events = [ev.type for ev in s]
        final = s.get_final_message()
        text = s.get_final_text()
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert text == STREAM_TEXT["text"]
    assert [b.type for b in final.content] == ["text"]
    assert final.content[0].text == STREAM_TEXT["text"]
    assert final.stop_reason == STREAM_TEXT["stop_reason"] == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (20, 5)

    sent = upstream.last("/messages")
    assert sent.body == {
        "model": "claude-sonnet-4-20250514",
        "max_tokens": 128,
        "stream": True,
        "messages": [{"role": "user", "content": "1 + 1?"}],
    }

    row = gateway.wait_row(request_id)
    assert row["stream"] is True
    assert row["provider"] == "anthropic"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (20, 5)
    assert row["costUSD"] == pytest.approx(anthropic_cost(20, 5))
    assert row["time_to_first_token"] is not None


def test_native_stream_bytes_are_the_recording(gateway):
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/messages",
        headers={"x-api-key": gateway.key, "anthropic-version": "2023-06-01", **NO_MAPPING},
        json={
            "model": "claude-sonnet-4/anthropic",
            "max_tokens": 64,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
        timeout=10,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        body = r.read()
    assert body == stream(
        "anthropic/messages_stream_text.sse"
    )  # forwarded untouched, pings and padding included


def test_native_tool_use(native, gateway, upstream):
    raw = native.messages.with_raw_response.create(
        model="claude-sonnet-4/anthropic",
        max_tokens=512,
        tools=TOOLS,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Which country am I in? [[tools]]"}],
    )
    message = raw.parse()
    assert message.stop_reason == "tool_use"
    uses = [b for b in message.content if b.type == "tool_use"]
    expected = [b for b in MESSAGE_TOOLS["content"] if b["type"] == "tool_use"]
    assert [(u.id, u.name, u.input) for u in uses] == [(e["id"], e["name"], e["input"]) for e in expected]
    sent = upstream.last("/messages")
    assert sent.body["tools"] == TOOLS
    assert sent.body["tool_choice"] == {"type": "any"}

    row = gateway.wait_row(raw.headers["helicone-id"])
    assert (row["prompt_tokens"], row["completion_tokens"]) == (445, 23)
    assert row["costUSD"] == pytest.approx(anthropic_cost(445, 23))


def test_native_stream_tool_use(native, gateway):
    with native.messages.stream(
        model="claude-sonnet-4/anthropic",
        max_tokens=512,
        tools=TOOLS,
        messages=[{"role": "user", "content": "Weather in Paris? [[tools]]"}],
    ) as s:
        request_id = s.response.headers["helicone-id"]
        final = s.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[0].text == STREAM_TOOLS["text"]
    use = final.content[1]
    assert (use.id, use.name, use.input) == (
        STREAM_TOOLS["tools"][0]["id"],
        "get_weather",
        {"location": "Paris"},
    )
    assert STREAM_TOOLS["tools"][0]["input"] == {"location": "Paris"}

    row = gateway.wait_row(request_id)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (377, 65)
    assert row["costUSD"] == pytest.approx(anthropic_cost(377, 65))


def test_native_stream_thinking(native):
    with native.messages.stream(
        model="claude-sonnet-4/anthropic",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "How do I cross a street? [[thinking]]"}],
    ) as s:
        final = s.get_final_message()
    recorded = sse_events(stream("anthropic/messages_stream_thinking.sse"))
    thinking = "".join(
        e["delta"]["thinking"]
        for e in recorded
        if e.get("type") == "content_block_delta" and e["delta"]["type"] == "thinking_delta"
    )
    signature = "".join(
        e["delta"]["signature"]
        for e in recorded
        if e.get("type") == "content_block_delta" and e["delta"]["type"] == "signature_delta"
    )
    block = final.content[0]
    assert block.type == "thinking"
    assert block.thinking == thinking
    assert block.signature == signature and signature


def test_no_mapping_with_a_provider_that_does_not_speak_messages_is_a_clear_400(native):
    with pytest.raises(anthropic.BadRequestError) as e:
        native.messages.create(
            model="gpt-4o-mini", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
    assert e.value.status_code == 400
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert "NO_MAPPING" in e.value.body["error"]["message"]


# -- mapped (no header) to a non-Anthropic provider ----------------------------------------------------------


def test_mapped_create_on_openai(mapped, gateway, upstream):
    raw = mapped.messages.with_raw_response.create(
        model="gpt-4o-mini",
        max_tokens=300,
        system="You are a weather bot.",
        extra_body={"temperature": 0.2},
        stop_sequences=["END"],
        messages=[{"role": "user", "content": "What's the weather in San Francisco?"}],
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == OPENAI_CHAT["choices"][0]["message"]["content"]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (14, 37)
    assert message.id.startswith("msg_")
    assert raw.headers["helicone-provider"] == "openai"

    sent = upstream.last("/chat/completions")
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["messages"] == [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "What's the weather in San Francisco?"},
    ]
    assert sent.body["temperature"] == 0.2
    assert sent.body["stop"] == ["END"]
    assert sent.headers["authorization"] == "Bearer sk-upstream-openai-secret-0001"

    row = gateway.wait_row(raw.headers["helicone-id"])
    assert row["request_path"] == "/v1/messages"
    assert row["provider"] == "openai"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (14, 37)
    assert row["costUSD"] == pytest.approx(openai_cost(14, 37))


def test_mapped_stream_on_openai(mapped, gateway, upstream):
    with mapped.messages.stream(
        model="gpt-4o-mini", max_tokens=300, messages=[{"role": "user", "content": "Tell me a story"}]
    ) as s:
        request_id = s.response.headers["helicone-id"]
        assert s.response.headers["content-type"].startswith("text/event-stream")
        events = [ev.type for ev in s]
        final = s.get_final_message()
    core = [
        e
        for e in events
        if e
        in ("message_start", "content_block_start", "content_block_stop", "message_delta", "message_stop")
    ]
    assert core == [
        "message_start",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert [b.type for b in final.content] == ["text"]
    assert final.content[0].text == OPENAI_STREAM["text"]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == OPENAI_STREAM["usage"]["completion_tokens"]
    assert (
        final.usage.input_tokens == OPENAI_STREAM["usage"]["prompt_tokens"]
    )  # known only at the end of the stream

    sent = upstream.last("/chat/completions")
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == [{"role": "user", "content": "Tell me a story"}]

    row = gateway.wait_row(request_id)
    assert row["stream"] is True
    assert row["provider"] == "openai"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (14, 30)
    assert row["costUSD"] == pytest.approx(openai_cost(14, 30))


def test_mapped_tools_on_openai(mapped, upstream):
    message = mapped.messages.create(
        model="gpt-4o-mini",
        max_tokens=300,
        tools=TOOLS,
        tool_choice={"type": "auto"},
        messages=[{"role": "user", "content": "Weather in Edinburgh and New York? [[tools]]"}],
    )
    assert message.stop_reason == "tool_use"
    uses = [b for b in message.content if b.type == "tool_use"]
    calls = OPENAI_TOOLS["choices"][0]["message"]["tool_calls"]
    assert [(u.name, u.input) for u in uses] == [
        (c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls
    ]
    assert all(u.id for u in uses) and len({u.id for u in uses}) == len(uses)

    sent = upstream.last("/chat/completions")
    assert sent.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": TOOLS[0]["description"],
                "parameters": TOOLS[0]["input_schema"],
            },
        }
    ]
    assert sent.body["tool_choice"] == "auto"


def test_mapped_tool_round_trip_on_openai(mapped, upstream):
    """A tool_result turn goes upstream as an OpenAI tool message answering the assistant's tool call."""
    mapped.messages.create(
        model="gpt-4o-mini",
        max_tokens=300,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"location": "Paris"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C, sunny"}],
            },
        ],
    )
    msgs = upstream.last("/chat/completions").body["messages"]
    assert msgs[1]["role"] == "assistant"
    assert msgs[1]["tool_calls"][0]["id"] == "toolu_1"
    assert json.loads(msgs[1]["tool_calls"][0]["function"]["arguments"]) == {"location": "Paris"}
    assert msgs[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "18C, sunny"}


def test_mapped_stream_tools_on_openai(mapped):
    with mapped.messages.stream(
        model="gpt-4o-mini",
        max_tokens=300,
        tools=TOOLS,
        messages=[{"role": "user", "content": "two cities [[tools]]"}],
    ) as s:
        final = s.get_final_message()
    assert final.stop_reason == "tool_use"
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [
        (t["name"], t["input"]) for t in OPENAI_STREAM_TOOLS["tools"]
    ]
    assert final.usage.output_tokens == OPENAI_STREAM_TOOLS["usage"]["completion_tokens"]


def test_mapped_length_stop_reason(mapped):
    message = mapped.messages.create(
        model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": "Go on [[length]]"}]
    )
    assert message.stop_reason == "max_tokens"


def test_mapped_upstream_errors_keep_anthropic_classes(mapped, gateway):
    with pytest.raises(anthropic.RateLimitError) as e:
        mapped.messages.create(
            model="gpt-4o-mini", max_tokens=50, messages=[{"role": "user", "content": "hi [[error:429]]"}]
        )
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "rate_limit_error"
    row = gateway.wait_row(e.value.response.headers["helicone-id"])
    assert row["response_status"] == 429
    assert [(a["provider"], a["status"]) for a in row["attempts"]] == [("openai", 429)]

    with pytest.raises(anthropic.AuthenticationError) as e:
        mapped.messages.create(
            model="gpt-4o-mini", max_tokens=50, messages=[{"role": "user", "content": "hi [[error:401]]"}]
        )
    assert e.value.body["error"]["type"] == "authentication_error"
    assert "Provider openai rejected the gateway's credentials" in e.value.body["error"]["message"]


def test_mapped_stream_interrupted_mid_way_ends_with_an_anthropic_error_event(mapped, gateway):
    received: list[str] = []
    with mapped.messages.stream(
        model="gpt-4o-mini",
        max_tokens=50,
        messages=[{"role": "user", "content": "story [[midstream-error]]"}],
    ) as s:
        request_id = s.response.headers["helicone-id"]
        with pytest.raises(anthropic.APIStatusError) as e:
            received.extend(ev.type for ev in s)
    assert received[0] == "message_start"
    assert "text" in received  # the caller got part of the answer before the error event
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "api_error"
    assert "mid-stream" in e.value.body["error"]["message"]
    row = gateway.wait_row(request_id)
    assert row["stream"] is True
    assert "interrupted" in (row["error"] or "")


def test_mapped_create_on_gemini(mapped, upstream):
    message = mapped.messages.create(
        model="gemini-2.5-flash/google-ai-studio",
        max_tokens=100,
        messages=[{"role": "user", "content": "hi"}],
    )
    recorded = exchange("gemini/generate_content.json")["response"]["body"]
    text = "".join(
        p.get("text", "") for p in recorded["candidates"][0]["content"]["parts"] if not p.get("thought")
    )
    assert message.type == "message"
    assert "".join(b.text for b in message.content if b.type == "text") == text
    assert ":generateContent" in upstream.last("generateContent").path


def test_default_mapping_with_an_anthropic_model_is_served(mapped, upstream):
    """Without NO_MAPPING an Anthropic model still answers the Anthropic caller correctly."""
    message = mapped.messages.create(
        model="claude-sonnet-4/anthropic", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == MESSAGE["content"][0]["text"]
    assert upstream.last("/messages").body["model"] == "claude-sonnet-4-20250514"


# -- authentication forms and headers -----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["api_key", "api_key Bearer", "auth_token"])
def test_sdk_auth_forms(gateway, upstream, form):
    """`Anthropic(api_key=key)`, the seed's `api_key=f"Bearer {key}"`, and `auth_token=key` all authenticate.

    (This SDK version sends `api_key` as `Authorization: Bearer <api_key>`, so the seed's form arrives as
    `Bearer Bearer <key>`; older versions and curl send `x-api-key`, covered by `test_raw_auth_headers`.)"""
    kwargs: dict[str, Any] = {
        "api_key": {"api_key": gateway.key},
        "api_key Bearer": {"api_key": f"Bearer {gateway.key}"},
        "auth_token": {"auth_token": gateway.key},
    }[form]
    client = anthropic.Anthropic(base_url=gateway.url, default_headers=NO_MAPPING, max_retries=0, **kwargs)
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4/anthropic", max_tokens=50, messages=[{"role": "user", "content": "Hello!"}]
    )
    sent_auth = {
        k: v for k, v in raw.http_request.headers.items() if k.lower() in ("x-api-key", "authorization")
    }
    assert any(gateway.key in v for v in sent_auth.values()), sent_auth
    assert raw.parse().content[0].text == MESSAGE["content"][0]["text"]
    assert upstream.last("/messages").headers["x-api-key"] == "sk-ant-upstream-secret-0002"
    assert gateway.wait_row(raw.headers["helicone-id"])["response_status"] == 200


@pytest.mark.parametrize(
    "header",
    [
        "x-api-key: {k}",
        "x-api-key: Bearer {k}",
        "authorization: Bearer {k}",
        "authorization: Bearer Bearer {k}",
    ],
)
def test_raw_auth_headers(gateway, header):
    name, value = header.split(": ", 1)
    r = httpx.post(
        f"{gateway.url}/v1/messages",
        headers={name: value.format(k=gateway.key), "anthropic-version": "2023-06-01", **NO_MAPPING},
        json={
            "model": "claude-sonnet-4/anthropic",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}],
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["content"][0]["text"] == MESSAGE["content"][0]["text"]


def test_unknown_anthropic_version_is_accepted(gateway):
    client = anthropic.Anthropic(
        api_key=gateway.key,
        base_url=gateway.url,
        max_retries=0,
        default_headers={**NO_MAPPING, "anthropic-version": "2099-01-01"},
    )
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4/anthropic", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.http_request.headers["anthropic-version"] == "2099-01-01"
    assert raw.parse().content[0].text == MESSAGE["content"][0]["text"]


def test_beta_messages_create(native, upstream):
    raw = native.beta.messages.with_raw_response.create(
        model="claude-sonnet-4/anthropic",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        betas=["context-1m-2025-08-07"],
    )
    assert raw.parse().content[0].text == MESSAGE["content"][0]["text"]
    sent = upstream.last("/messages")
    assert sent.headers["anthropic-beta"] == "context-1m-2025-08-07"  # beta features depend on the header
    assert sent.body["model"] == "claude-sonnet-4-20250514"


def test_beta_query_parameter_is_accepted(gateway, upstream):
    """Older Anthropic SDKs post `client.beta.messages` to `/v1/messages?beta=true`."""
    r = httpx.post(
        f"{gateway.url}/v1/messages?beta=true",
        headers={
            "x-api-key": gateway.key,
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "tools-2024-04-04",
            **NO_MAPPING,
        },
        json={
            "model": "claude-sonnet-4/anthropic",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}],
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json() == MESSAGE
    assert upstream.last("/messages").headers["anthropic-beta"] == "tools-2024-04-04"


def test_helicone_headers_are_logged(native, gateway):
    raw = native.messages.with_raw_response.create(
        model="claude-sonnet-4/anthropic",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={
            "Helicone-Property-Surface": "messages",
            "Helicone-User-Id": "anthropic-user",
            "Helicone-Session-Id": "sess-a",
        },
    )
    row = gateway.wait_row(raw.headers["helicone-id"])
    assert row["request_properties"]["surface"] == "messages"
    assert row["request_user_id"] == "anthropic-user"
    assert row["session_id"] == "sess-a"


# -- errors in Anthropic's shape --------------------------------------------------------------------------


def test_bad_key_is_an_authentication_error(gateway):
    bad = anthropic.Anthropic(
        api_key="sk-not-a-gateway-key", base_url=gateway.url, default_headers=NO_MAPPING, max_retries=0
    )
    with pytest.raises(anthropic.AuthenticationError) as e:
        bad.messages.create(
            model="claude-sonnet-4/anthropic", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
    assert e.value.status_code == 401
    assert e.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "Invalid gateway key."},
    }
    assert e.value.response.headers["helicone-id"]


def test_missing_max_tokens_is_a_bad_request(native, gateway, upstream):
    before = len(upstream.seen)
    with pytest.raises(anthropic.BadRequestError) as e:
        native.messages.create(
            model="claude-sonnet-4/anthropic",
            max_tokens=anthropic.NOT_GIVEN,
            messages=[{"role": "user", "content": "hi"}],
            timeout=10,
        )
    assert e.value.status_code == 400
    body = e.value.body
    assert set(body) == {"type", "error"}
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]
    assert len(upstream.seen) == before  # rejected before any provider is asked
    row = gateway.wait_row(e.value.response.headers["helicone-id"])
    assert row["response_status"] == 400


def test_unknown_model_is_a_400(native):
    with pytest.raises(anthropic.BadRequestError) as e:
        native.messages.create(
            model="claude-nonexistent-9", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
    assert e.value.status_code == 400
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert "claude-nonexistent-9" in e.value.body["error"]["message"]


def test_stream_errors_before_commit_are_anthropic_errors(native):
    with (
        pytest.raises(anthropic.BadRequestError) as e,
        native.messages.stream(
            model="claude-nonexistent-9", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as s,
    ):
        s.get_final_message()
    assert e.value.body["type"] == "error"


# -- the seed's Python example, literally ---------------------------------------------------------------------


def test_seed_python_anthropic_example(gateway, upstream):
    from anthropic import Anthropic

    client = Anthropic(
        api_key=f"Bearer {gateway.key}",
        base_url=gateway.url,
        default_headers={
            "Helicone-Gateway-Body-Mapping": "NO_MAPPING",
        },
    )
    response = client.messages.create(
        model="claude-3-7-sonnet-20250219/anthropic",
        max_tokens=100,
        messages=[{"role": "user", "content": "Hello!"}],
    )
    assert response.content[0].text == MESSAGE["content"][0]["text"]
    sent = upstream.last("/messages")
    assert sent.body == {
        "model": "claude-3-7-sonnet-20250219",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello!"}],
    }
