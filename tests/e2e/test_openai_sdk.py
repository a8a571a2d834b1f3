"""The official `openai` Python SDK against a real gateway process, replaying recorded OpenAI traffic."""

from __future__ import annotations

import json

import openai
import pytest

from support.wire import exchange

RECORDED = exchange("openai/chat_completion.json")["response"]["body"]
TOOLS = exchange("openai/chat_completion_tool_calls.json")["response"]["body"]

HEADERS = {
    "Helicone-Property-Environment": "production",
    "Helicone-Property-Feature": "checkout",
    "Helicone-User-Id": "user-123",
    "Helicone-Session-Id": "sess-42",
    "Helicone-Session-Path": "/plan/step-1",
    "Helicone-Session-Name": "trip-planner",
}


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)


@pytest.fixture
def aclient(gateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)


def test_chat_sync_answer_and_log_row(client, gateway, upstream):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What's the weather in San Francisco?"}],
        temperature=0.2,
        extra_headers=HEADERS,
        extra_body={"some_future_param": {"x": 1}},
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == RECORDED["choices"][0]["message"]["content"]
    assert completion.usage.total_tokens == 51
    request_id = raw.headers["helicone-id"]
    assert float(raw.headers["switchyard-overhead-ms"]) >= 0

    sent = upstream.last("/v1/chat/completions")
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["temperature"] == 0.2
    assert sent.body["some_future_param"] == {"x": 1}  # unknown parameters are forwarded, not dropped
    assert sent.headers["authorization"] == "Bearer sk-upstream-openai-secret-0001"

    row = gateway.wait_row(request_id)
    assert row["response_status"] == 200
    assert row["provider"] == "openai"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 37, 51)
    # gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output
    assert row["costUSD"] == pytest.approx((14 * 0.15 + 37 * 0.60) / 1e6)
    assert row["request_user_id"] == "user-123"
    assert (row["session_id"], row["session_path"], row["session_name"]) == (
        "sess-42",
        "/plan/step-1",
        "trip-planner",
    )
    assert row["request_properties"]["environment"] == "production"
    assert row["request_properties"]["feature"] == "checkout"
    assert row["request_body"]["messages"][0]["content"] == "What's the weather in San Francisco?"
    assert (
        row["response_body"]["choices"][0]["message"]["content"]
        == RECORDED["choices"][0]["message"]["content"]
    )
    assert row["attempts"] == [
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "status": 200,
            "source": "gpt-4o-mini/openai/ptb",
            "latency_ms": row["attempts"][0]["latency_ms"],
        }
    ]


def test_body_user_is_the_fallback_user(client, gateway):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], user="body-user-7"
    )
    assert gateway.wait_row(raw.headers["helicone-id"])["request_user_id"] == "body-user-7"


def test_caller_request_id_is_honoured(client, gateway):
    rid = "5f1b7c1e-3f0a-4c6e-9d7e-1a2b3c4d5e6f"
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"Helicone-Request-Id": rid},
    )
    assert raw.headers["helicone-id"] == rid
    assert gateway.wait_row(rid)["request_id"] == rid


def test_chat_tool_calls(client, gateway):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Edinburgh and New York? [[tools]]"}],
        tools=tools,
    )
    calls = completion.choices[0].message.tool_calls
    assert completion.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in calls] == [
        c["function"]["name"] for c in TOOLS["choices"][0]["message"]["tool_calls"]
    ]
    assert [json.loads(c.function.arguments) for c in calls] == [
        json.loads(c["function"]["arguments"]) for c in TOOLS["choices"][0]["message"]["tool_calls"]
    ]


def test_stream_without_usage_strips_the_usage_chunk(client, gateway, upstream):
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Tell me a story"}],
        stream=True,
        extra_headers=HEADERS,
    ) as resp:
        request_id = resp.headers["helicone-id"]
        chunks = list(resp.parse())
    assert all(c.usage is None for c in chunks), "the caller did not ask for usage"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("I'm")
    sent = upstream.last("/v1/chat/completions")
    assert sent.body["stream_options"] == {"include_usage": True}, (
        "the gateway always asks upstream for usage"
    )

    row = gateway.wait_row(request_id)
    assert row["stream"] is True
    assert (row["prompt_tokens"], row["completion_tokens"]) == (14, 30)
    assert row["costUSD"] == pytest.approx((14 * 0.15 + 30 * 0.60) / 1e6)
    assert row["response_body"]["choices"][0]["message"]["content"] == text
    assert row["time_to_first_token"] is not None
    assert row["request_properties"]["environment"] == "production"


def test_stream_with_usage_keeps_the_usage_chunk(client):
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Tell me a story"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 44


def test_stream_parallel_tool_calls(client, gateway):
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "two cities [[tools]]"}], stream=True
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        for ch in chunk.choices:
            finish = ch.finish_reason or finish
            for tc in ch.delta.tool_calls or ():
                c = calls.setdefault(tc.index, {"name": "", "arguments": ""})
                c["name"] += (tc.function.name or "") if tc.function else ""
                c["arguments"] += (tc.function.arguments or "") if tc.function else ""
    assert finish == "tool_calls"
    assert [c["name"] for _, c in sorted(calls.items())] == [
        "GetWeatherArgs",
        "get_stock_price",
    ]  # as recorded
    for c in calls.values():
        assert isinstance(json.loads(c["arguments"]), dict)


async def test_async_client_chat_and_stream(aclient):
    completion = await aclient.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == RECORDED["choices"][0]["message"]["content"]
    stream = await aclient.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.startswith("I'm")


def test_legacy_completions_on_a_chat_model_map_to_chat(client, gateway, upstream):
    raw = client.completions.with_raw_response.create(model="gpt-4o-mini", prompt="Say hello", max_tokens=16)
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.choices[0].text == RECORDED["choices"][0]["message"]["content"]
    sent = upstream.last("/v1/chat/completions")
    assert sent.body["messages"] == [{"role": "user", "content": "Say hello"}]
    assert sent.body["max_tokens"] == 16
    row = gateway.wait_row(raw.headers["helicone-id"])
    assert row["request_path"] == "/v1/completions" and row["total_tokens"] == 51


def test_legacy_completions_stream_on_a_chat_model(client):
    stream = client.completions.create(model="gpt-4o-mini", prompt="Say hello", stream=True)
    text = "".join(c.choices[0].text for c in stream if c.choices)
    assert text.startswith("I'm")


def test_legacy_completions_pass_through_to_a_native_provider(client, upstream):
    completion = client.completions.create(model="llama3/my-vllm", prompt="Once upon a time")
    assert completion.choices[0].text == " there was a gateway."
    sent = upstream.last("/vllm/v1/completions")
    assert sent.body == {"model": "llama3", "prompt": "Once upon a time"}


def test_custom_provider_passes_the_model_name_verbatim(client, upstream):
    client.chat.completions.create(model="llama3/my-vllm", messages=[{"role": "user", "content": "hi"}])
    assert upstream.last("/vllm/v1/chat/completions").body["model"] == "llama3"


def test_models_list(client):
    models = client.models.list()
    ids = {m.id for m in models.data}
    assert {"gpt-4o-mini", "claude-sonnet-4", "gemini-2.5-flash"} <= ids
    assert len(ids) >= 60


def test_path_without_v1_prefix(gateway):
    c = openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)
    assert c.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    ).choices
