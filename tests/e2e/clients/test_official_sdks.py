"""The official `openai` (chat completions and Responses) and `anthropic` SDKs through the gateway to every
translated provider: two-turn tool loops with reasoning on (Responses also by `previous_response_id` and by
`item_reference`, as stateful clients send them), structured outputs, streams, and Anthropic's count_tokens."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from pydantic import BaseModel

from support.client_matrix import ANSWER, BY_NAME, assert_tool_loop, get_weather, providers, sent

CHAT_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
RESP_TOOL = {"type": "function", **CHAT_TOOL["function"]}
ANTHROPIC_TOOL = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": CHAT_TOOL["function"]["parameters"],
}


class Weather(BaseModel):
    city: str
    temp_c: int


@pytest.fixture
def oai(matrix_gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{matrix_gateway.url}/v1", api_key=matrix_gateway.key, max_retries=0)


@pytest.fixture
def claude(matrix_gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=matrix_gateway.url, api_key=matrix_gateway.key, max_retries=0)


# --- OpenAI chat completions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", providers())
def test_chat_tool_loop_with_reasoning(oai, agent_upstream, provider):
    mark = agent_upstream.mark()
    history = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = oai.chat.completions.create(
        model=provider.model, messages=history, tools=[CHAT_TOOL], reasoning_effort="low"
    )
    (call,) = first.choices[0].message.tool_calls
    history += [
        first.choices[0].message.model_dump(exclude_none=True),
        {
            "role": "tool",
            "tool_call_id": call.id,
            "content": get_weather(**json.loads(call.function.arguments)),
        },
    ]
    second = oai.chat.completions.create(
        model=provider.model, messages=history, tools=[CHAT_TOOL], reasoning_effort="low"
    )
    assert second.choices[0].message.content == ANSWER
    assert_tool_loop(agent_upstream, mark, provider)


@pytest.mark.parametrize("provider", providers())
def test_chat_parse(oai, agent_upstream, provider):
    got = oai.chat.completions.parse(
        model=provider.model,
        response_format=Weather,
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
    )
    assert got.choices[0].message.parsed == Weather(city="Paris", temp_c=21)


@pytest.mark.parametrize("provider", providers())
def test_chat_stream(oai, agent_upstream, provider):
    mark = agent_upstream.mark()
    chunks = list(
        oai.chat.completions.create(
            model=provider.model,
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "Weather in Paris?"}],
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert chunks[-1].usage.completion_tokens == 10
    (call,) = sent(agent_upstream, mark, provider)
    assert call.streamed


# --- OpenAI Responses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["items", "previous_response_id", "item_reference"])
@pytest.mark.parametrize("provider", providers())
def test_responses_tool_loop_with_reasoning(oai, agent_upstream, provider, how):
    mark = agent_upstream.mark()
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = oai.responses.create(
        model=provider.model, input=ask, tools=[RESP_TOOL], reasoning={"effort": "low"}
    )
    (call,) = [o for o in first.output if o.type == "function_call"]
    result = {
        "type": "function_call_output",
        "call_id": call.call_id,
        "output": get_weather(**json.loads(call.arguments)),
    }
    if how == "items":  # stateless: everything sent again
        more = {"input": [*ask, *(o.model_dump(exclude_none=True) for o in first.output), result]}
    elif how == "previous_response_id":
        more = {"input": [result], "previous_response_id": first.id}
    else:  # what the Vercel AI SDK sends with store on
        more = {"input": [*ask, *({"type": "item_reference", "id": o.id} for o in first.output), result]}
    second = oai.responses.create(
        model=provider.model, tools=[RESP_TOOL], reasoning={"effort": "low"}, **more
    )
    assert second.output_text == ANSWER
    calls = sent(agent_upstream, mark, provider)
    assert len(calls) == 2 and calls[0].reasoning
    if calls[1].wire != "responses":  # bridged: the gateway rebuilt the history the provider needs
        assert calls[1].tool_results[0][0] in calls[1].tool_calls


@pytest.mark.parametrize("provider", providers())
def test_responses_parse(oai, provider):
    got = oai.responses.parse(model=provider.model, text_format=Weather, input="Weather in Paris as JSON")
    assert got.output_parsed == Weather(city="Paris", temp_c=21)


@pytest.mark.parametrize("provider", providers())
def test_responses_stream(oai, agent_upstream, provider):
    mark = agent_upstream.mark()
    events = list(oai.responses.create(model=provider.model, input="Weather in Paris?", stream=True))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == ANSWER
    assert events[-1].type == "response.completed" and events[-1].response.output_text == ANSWER
    (call,) = sent(agent_upstream, mark, provider)
    assert call.streamed


# --- Anthropic ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", providers())
def test_messages_tool_loop_with_thinking(claude, agent_upstream, provider):
    mark = agent_upstream.mark()
    kw = {
        "model": provider.model,
        "max_tokens": 2048,
        "tools": [ANTHROPIC_TOOL],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    history = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = claude.messages.create(messages=history, **kw)
    (use,) = [b for b in first.content if b.type == "tool_use"]
    history += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": get_weather(**use.input)}],
        },
    ]
    second = claude.messages.create(messages=history, **kw)
    assert [b.text for b in second.content if b.type == "text"] == [ANSWER]
    _, last = assert_tool_loop(agent_upstream, mark, provider)
    if provider.claude:  # native: the signed thinking block went back as it came
        assert last.reasoning and last.signed_thinking


@pytest.mark.parametrize("provider", providers())
def test_messages_forced_tool_as_structured_output(claude, provider):
    tool = {"name": "weather_report", "input_schema": Weather.model_json_schema()}
    got = claude.messages.create(
        model=provider.model,
        max_tokens=1024,
        tools=[tool],
        tool_choice={"type": "tool", "name": "weather_report"},
        messages=[{"role": "user", "content": "Weather in Paris as a report"}],
    )
    (use,) = [b for b in got.content if b.type == "tool_use"]
    assert Weather.model_validate(use.input) == Weather(city="Paris", temp_c=21)


@pytest.mark.parametrize("provider", providers())
def test_messages_stream(claude, agent_upstream, provider):
    mark = agent_upstream.mark()
    with claude.messages.stream(
        model=provider.model, max_tokens=1024, messages=[{"role": "user", "content": "Weather in Paris?"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == ANSWER and final.usage.output_tokens == 10
    (call,) = sent(agent_upstream, mark, provider)
    assert call.streamed


@pytest.mark.parametrize("provider", providers())
def test_count_tokens(claude, agent_upstream, provider):
    """Claude's three upstreams count (the mock says 42, through each one's counting method); other models get a
    clear 4xx (or an estimate), never a fake 0."""
    mark = agent_upstream.mark()
    try:
        counted = claude.messages.count_tokens(
            model=provider.model, messages=[{"role": "user", "content": "Hello"}]
        )
    except anthropic.APIStatusError as exc:
        assert not provider.claude and 400 <= exc.status_code < 500 and exc.status_code != 404, exc
        return
    if provider.claude:
        (call,) = sent(agent_upstream, mark, provider)
        assert counted.input_tokens == 42 and (
            "count_tokens" in call.seen.path or "count-tokens" in call.seen.path
        )
    assert counted.input_tokens > 0


@pytest.mark.parametrize("target", ["anthropic", "bedrock", "vertex"])
def test_gemini_conversation_continued_on_claude(oai, agent_upstream, target):
    """Two tool calls made by Gemini (which sends no ids: the gateway makes them), then the same history sent to
    Claude, which refuses duplicate tool_use ids: the ids must be unique across responses."""
    gemini, claude_route = BY_NAME["gemini"], BY_NAME[target]
    history: list[dict] = []
    for city in ("Paris", "Lyon"):
        history.append({"role": "user", "content": f"What is the weather in {city}?"})
        turn = oai.chat.completions.create(model=gemini.model, messages=history, tools=[CHAT_TOOL])
        (call,) = turn.choices[0].message.tool_calls
        history += [
            turn.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": get_weather(city)},
        ]
        history.append(
            oai.chat.completions.create(model=gemini.model, messages=history, tools=[CHAT_TOOL])
            .choices[0]
            .message.model_dump(exclude_none=True)
        )
    ids = [c["id"] for m in history for c in m.get("tool_calls") or []]
    assert len(ids) == len(set(ids)) == 2
    mark = agent_upstream.mark()
    history.append({"role": "user", "content": "And in Paris again?"})
    again = oai.chat.completions.create(model=claude_route.model, messages=history, tools=[CHAT_TOOL])
    assert again.choices[0].message.tool_calls
    (sent_to_claude,) = sent(agent_upstream, mark, claude_route)
    assert sorted(sent_to_claude.tool_calls) == sorted(ids)


@pytest.mark.parametrize("provider", providers())
def test_max_tokens_above_the_ceiling(claude, agent_upstream, provider):
    """128000 (what the AI SDK sends for a model it does not know) against Claude Sonnet 4's 64000: clamped by the
    gateway on every route, native passthrough included (the mock refuses above the ceiling, as Anthropic does)."""
    mark = agent_upstream.mark()
    with claude.messages.stream(
        model=provider.model, max_tokens=128000, messages=[{"role": "user", "content": "Hi"}]
    ) as s:
        got = s.get_final_message()  # the SDK refuses such a limit without streaming
    assert [b.text for b in got.content if b.type == "text"] == [ANSWER]
    (call,) = sent(agent_upstream, mark, provider)
    if provider.claude:
        limit = call.body.get("max_tokens") or call.body["inferenceConfig"]["maxTokens"]
        assert limit == 64000
