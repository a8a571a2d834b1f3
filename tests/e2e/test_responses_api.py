"""The `openai` SDK's Responses API (`client.responses`) against a real gateway, replaying recorded traffic.

OpenAI models are served natively (the caller's body goes to the provider's `/v1/responses`, the answer comes back
untouched); models of providers without a Responses API (Anthropic, Gemini) are bridged through chat completions.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from support.wire import exchange, sse_events, stream

MESSAGE = exchange("anthropic/messages.json")["response"]["body"]
MESSAGE_TOOLS = exchange("anthropic/messages_tool_use.json")["response"]["body"]
ANTHROPIC_TEXT = MESSAGE["content"][0]["text"]

TOOLS = [
    {
        "type": "function",
        "name": "get_capital",
        "description": "The capital of a country",
        "parameters": {
            "type": "object",
            "properties": {"country": {"type": "string"}},
            "required": ["country"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]


def completed(name: str) -> dict[str, Any]:
    return next(e["response"] for e in sse_events(stream(name)) if e["type"] == "response.completed")


TEXT_SSE = "openai/responses_stream_text.sse"
CALL_SSE = "openai/responses_stream_function_call.sse"
NATIVE_TEXT = completed(TEXT_SSE)
NATIVE_CALL = completed(CALL_SSE)
NATIVE_ANSWER = "".join(
    p["text"]
    for item in NATIVE_TEXT["output"]
    if item["type"] == "message"
    for p in item["content"]
    if p["type"] == "output_text"
)


def anthropic_stream(name: str) -> dict[str, Any]:
    text, tools, usage = "", {}, {}
    for ev in sse_events(stream(name)):
        t = ev.get("type")
        if t == "message_start":
            usage.update(ev["message"]["usage"])
        elif t == "message_delta":
            usage.update(ev["usage"])
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
    return {
        "text": text,
        "usage": usage,
        "tools": [
            {"id": c["id"], "name": c["name"], "input": json.loads(c["json"] or "{}")}
            for _, c in sorted(tools.items())
        ],
    }


ANTHROPIC_STREAM = anthropic_stream("anthropic/messages_stream_text.sse")
ANTHROPIC_STREAM_TOOLS = anthropic_stream("anthropic/messages_stream_tool_use.sse")


def openai_cost(inp: int, out: int) -> float:
    return (inp * 0.15 + out * 0.60) / 1e6  # gpt-4o-mini on OpenAI, USD per 1M tokens


def anthropic_cost(inp: int, out: int) -> float:
    return (inp * 3.00 + out * 15.00) / 1e6  # claude-sonnet-4 on Anthropic


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)


# -- (a) native: OpenAI ----------------------------------------------------------------------------------------


def test_native_create(client, gateway, upstream):
    raw = client.responses.with_raw_response.create(
        model="gpt-4o-mini",
        instructions="Answer in one sentence.",
        input="What is the capital of France?",
        temperature=0.5,
        max_output_tokens=64,
        store=False,
        extra_body={"some_future_param": {"x": 1}},
    )
    response = raw.parse()
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == NATIVE_ANSWER == "The capital of France is Paris."
    assert response.id == NATIVE_TEXT["id"]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (278, 9)
    assert raw.headers["helicone-provider"] == "openai"
    assert json.loads(raw.content) == NATIVE_TEXT  # the provider's answer, untouched

    sent = upstream.last("/responses")
    assert sent.path == "/v1/responses"
    assert sent.body == {
        "model": "gpt-4o-mini",
        "instructions": "Answer in one sentence.",
        "input": "What is the capital of France?",
        "temperature": 0.5,
        "max_output_tokens": 64,
        "store": False,
        "some_future_param": {"x": 1},
    }
    assert sent.headers["authorization"] == "Bearer sk-upstream-openai-secret-0001"
    assert not any(k.startswith("helicone-") for k in sent.headers)

    row = gateway.wait_row(raw.headers["helicone-id"])
    assert row["response_status"] == 200
    assert row["request_path"] == "/v1/responses"
    assert row["request_model"] == "gpt-4o-mini"
    assert row["provider"] == "openai"
    assert row["stream"] is False
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (278, 9, 287)
    assert row["costUSD"] == pytest.approx(openai_cost(278, 9))
    assert row["request_body"]["input"] == "What is the capital of France?"
    assert row["response_body"]["output"] == NATIVE_TEXT["output"]


def test_native_stream(client, gateway, upstream):
    with client.responses.with_streaming_response.create(
        model="gpt-4o-mini", input="What is the capital of France?", stream=True
    ) as resp:
        request_id = resp.headers["helicone-id"]
        events = list(resp.parse())
    assert [e.type for e in events] == [e["type"] for e in sse_events(stream(TEXT_SSE))]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == NATIVE_ANSWER
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == NATIVE_ANSWER

    sent = upstream.last("/responses")
    assert sent.body == {"model": "gpt-4o-mini", "input": "What is the capital of France?", "stream": True}

    row = gateway.wait_row(request_id)
    assert row["stream"] is True
    assert row["request_path"] == "/v1/responses"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (278, 9)
    assert row["costUSD"] == pytest.approx(openai_cost(278, 9))
    assert row["time_to_first_token"] is not None


def test_native_stream_bytes_are_the_recording(gateway):
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/responses",
        headers=gateway.headers(),
        timeout=10,
        json={"model": "gpt-4o-mini", "input": "hi", "stream": True},
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        body = r.read()
    assert body == stream(TEXT_SSE)


def test_native_stream_helper(client):
    with client.responses.stream(model="gpt-4o-mini", input="What is the capital of France?") as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == NATIVE_ANSWER
    assert final.output_text == NATIVE_ANSWER


# -- (b) bridged through chat: Anthropic, Gemini --------------------------------------------------------------


def test_bridged_create_on_anthropic(client, gateway, upstream):
    raw = client.responses.with_raw_response.create(
        model="claude-sonnet-4/anthropic",
        instructions="You are a helpful assistant.",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "What is the capital of France?"}]}
        ],
        max_output_tokens=200,
        temperature=0.1,
        metadata={"ticket": "T-1"},
    )
    response = raw.parse()
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == ANTHROPIC_TEXT
    assert [item.type for item in response.output] == ["message"]
    assert response.output[0].role == "assistant"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        20,
        10,
        30,
    )
    assert response.instructions == "You are a helpful assistant."
    assert response.max_output_tokens == 200
    assert response.metadata == {"ticket": "T-1"}
    assert raw.headers["helicone-provider"] == "anthropic"

    sent = upstream.last("/messages")
    assert sent.path == "/anthropic/v1/messages"
    assert sent.body["model"] == "claude-sonnet-4-20250514"
    assert sent.body["max_tokens"] == 200
    assert sent.body["temperature"] == 0.1
    system = sent.body["system"]
    assert (
        system if isinstance(system, str) else "".join(b["text"] for b in system)
    ) == "You are a helpful assistant."
    assert len(sent.body["messages"]) == 1 and sent.body["messages"][0]["role"] == "user"
    content = sent.body["messages"][0]["content"]
    assert (content if isinstance(content, str) else content[0]["text"]) == "What is the capital of France?"
    assert sent.headers["x-api-key"] == "sk-ant-upstream-secret-0002"

    row = gateway.wait_row(raw.headers["helicone-id"])
    assert row["request_path"] == "/v1/responses"
    assert row["provider"] == "anthropic"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (20, 10)
    assert row["costUSD"] == pytest.approx(anthropic_cost(20, 10))


def test_bridged_stream_on_anthropic(client, gateway, upstream):
    with client.responses.with_streaming_response.create(
        model="claude-sonnet-4/anthropic", input="1 + 1?", stream=True
    ) as resp:
        request_id = resp.headers["helicone-id"]
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = list(resp.parse())
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    for t in (
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert t in types
    seq = [e.sequence_number for e in events]
    assert seq == sorted(seq) and len(set(seq)) == len(seq)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == ANTHROPIC_STREAM["text"]
    final = events[-1].response
    assert final.output_text == ANTHROPIC_STREAM["text"]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (20, 5)

    sent = upstream.last("/messages")
    assert sent.body["stream"] is True
    assert sent.body["model"] == "claude-sonnet-4-20250514"

    row = gateway.wait_row(request_id)
    assert row["stream"] is True
    assert row["provider"] == "anthropic"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (20, 5)
    assert row["costUSD"] == pytest.approx(anthropic_cost(20, 5))


def test_bridged_stream_helper_on_anthropic(client):
    with client.responses.stream(model="claude-sonnet-4/anthropic", input="1 + 1?") as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == ANTHROPIC_STREAM["text"]
    assert final.output_text == ANTHROPIC_STREAM["text"]
    assert final.status == "completed"


def test_bridged_create_on_gemini(client, upstream):
    recorded = exchange("gemini/generate_content.json")["response"]["body"]
    text = "".join(
        p.get("text", "") for p in recorded["candidates"][0]["content"]["parts"] if not p.get("thought")
    )
    response = client.responses.create(model="gemini-2.5-flash/google-ai-studio", input="hi")
    assert response.object == "response"
    assert response.output_text == text
    assert response.usage is not None and response.usage.input_tokens > 0
    assert ":generateContent" in upstream.last("generateContent").path


def test_bridged_unknown_previous_response_is_openais_400(client):
    # known ids are resolved by the gateway (tests/e2e/test_responses_state.py); an unknown one is OpenAI's error
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(
            model="claude-sonnet-4/anthropic", input="hi", previous_response_id="resp_123"
        )
    assert e.value.status_code == 400
    assert e.value.body["param"] == "previous_response_id"
    assert e.value.body["code"] == "previous_response_not_found"


# -- (c) tools ----------------------------------------------------------------------------------------------


def test_native_function_call(client, upstream):
    response = client.responses.create(model="gpt-4o-mini", input="Capital of France? [[tools]]", tools=TOOLS)
    calls = [item for item in response.output if item.type == "function_call"]
    expected = [item for item in NATIVE_CALL["output"] if item["type"] == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        (x["call_id"], x["name"], json.loads(x["arguments"])) for x in expected
    ]
    assert json.loads(calls[0].arguments) == {"country": "France"}
    assert upstream.last("/responses").body["tools"] == TOOLS


def test_native_function_call_stream(client):
    with client.responses.stream(model="gpt-4o-mini", input="Capital of France? [[tools]]", tools=TOOLS) as s:
        arg_deltas = [e.delta for e in s if e.type == "response.function_call_arguments.delta"]
        final = s.get_final_response()
    call = next(item for item in final.output if item.type == "function_call")
    assert call.name == "get_capital"
    assert json.loads("".join(arg_deltas)) == json.loads(call.arguments) == {"country": "France"}


def test_bridged_function_call_on_anthropic(client, upstream):
    response = client.responses.create(
        model="claude-sonnet-4/anthropic",
        input="Largest city in my country? [[tools]]",
        tools=TOOLS,
        tool_choice="required",
    )
    calls = [item for item in response.output if item.type == "function_call"]
    expected = [b for b in MESSAGE_TOOLS["content"] if b["type"] == "tool_use"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        (b["id"], b["name"], b["input"]) for b in expected
    ]
    sent = upstream.last("/messages")
    assert sent.body["tools"][0]["name"] == "get_capital"
    assert sent.body["tools"][0]["input_schema"] == TOOLS[0]["parameters"]
    assert sent.body["tool_choice"]["type"] == "any"


def test_bridged_function_call_stream_on_anthropic(client):
    with client.responses.stream(
        model="claude-sonnet-4/anthropic", input="Weather in Paris? [[tools]]", tools=TOOLS
    ) as s:
        events = list(s)
        final = s.get_final_response()
    assert "response.function_call_arguments.delta" in [e.type for e in events]
    assert final.output_text == ANTHROPIC_STREAM_TOOLS["text"]
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        (t["id"], t["name"], t["input"]) for t in ANTHROPIC_STREAM_TOOLS["tools"]
    ]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (377, 65)


def test_bridged_function_call_output_round_trip_on_anthropic(client, upstream):
    client.responses.create(
        model="claude-sonnet-4/anthropic",
        tools=TOOLS,
        input=[
            {"role": "user", "content": "Capital of France?"},
            {
                "type": "function_call",
                "call_id": "toolu_9",
                "name": "get_capital",
                "arguments": '{"country":"France"}',
            },
            {"type": "function_call_output", "call_id": "toolu_9", "output": "Paris"},
        ],
    )
    msgs = upstream.last("/messages").body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    use = next(b for b in msgs[1]["content"] if b["type"] == "tool_use")
    assert (use["id"], use["name"], use["input"]) == ("toolu_9", "get_capital", {"country": "France"})
    result = next(b for b in msgs[2]["content"] if b["type"] == "tool_result")
    assert result["tool_use_id"] == "toolu_9"
    content = result["content"]
    assert (content if isinstance(content, str) else "".join(b["text"] for b in content)) == "Paris"


# -- (d) a Responses body on /chat/completions ---------------------------------------------------------------


def test_responses_body_on_chat_completions_is_served_as_responses(gateway, upstream):
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers=gateway.headers(),
        timeout=10,
        json={"model": "claude-sonnet-4/anthropic", "input": "What is the capital of France?"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "response"
    assert body["output"][0]["content"][0]["text"] == ANTHROPIC_TEXT
    assert upstream.last("/messages").body["model"] == "claude-sonnet-4-20250514"
    row = gateway.wait_row(r.headers["helicone-id"])
    assert row["request_path"] == "/v1/chat/completions"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (20, 10)


def test_responses_body_on_chat_completions_native(gateway, upstream):
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers=gateway.headers(),
        timeout=10,
        json={"model": "gpt-4o-mini", "input": "What is the capital of France?"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "response"
    assert upstream.last().path == "/v1/responses"


def test_responses_body_on_chat_completions_streams_responses_events(gateway):
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers=gateway.headers(),
        timeout=10,
        json={"model": "claude-sonnet-4/anthropic", "input": "1 + 1?", "stream": True},
    ) as r:
        assert r.status_code == 200
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == ANTHROPIC_STREAM["text"]


def test_responses_mapping_header_on_chat_completions(gateway):
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        timeout=10,
        headers={**gateway.headers(), "Helicone-Gateway-Body-Mapping": "RESPONSES"},
        json={"model": "claude-sonnet-4/anthropic", "input": "hi"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "response"


def test_openai_mapping_header_turns_detection_off(gateway):
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        timeout=10,
        headers={**gateway.headers(), "Helicone-Gateway-Body-Mapping": "OPENAI"},
        json={"model": "claude-sonnet-4/anthropic", "input": "hi"},
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert "messages" in err["message"]
    assert err["type"] == "invalid_request_error"


# -- errors ----------------------------------------------------------------------------------------------------


def test_missing_input_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="gpt-4o-mini", input=[])
    assert e.value.body["param"] == "input"


def test_bad_key_is_a_401(gateway):
    bad = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-not-a-gateway-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.responses.create(model="gpt-4o-mini", input="hi")
