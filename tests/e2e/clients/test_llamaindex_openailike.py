"""LlamaIndex `OpenAILike` (llama-index-llms-openai-like) through the gateway to every translated provider: a
two-turn tool loop with reasoning on, a structured prediction, a stream. OpenAILike sends its defaults
(`temperature=0.1`) to every model, reasoning models included."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from support.client_matrix import ANSWER, assert_tool_loop, get_weather, providers, sent
from support.deferred_import import deferred

# imported when a test here runs (llama_index.core takes ~1 s), not in every xdist worker's collection
llms = deferred("llama_index.core.llms")
prompts = deferred("llama_index.core.prompts")
tools = deferred("llama_index.core.tools")
openai_like = deferred("llama_index.llms.openai_like")


class Weather(BaseModel):
    city: str
    temp_c: int


def llm(gw, provider, **kw) -> openai_like.OpenAILike:
    return openai_like.OpenAILike(
        model=provider.model,
        api_base=f"{gw.url}/v1",
        api_key=gw.key,
        max_retries=0,
        is_chat_model=True,
        is_function_calling_model=True,
        context_window=128000,
        **kw,
    )


@pytest.mark.parametrize("provider", providers())
def test_tool_loop_with_reasoning(matrix_gateway, agent_upstream, provider):
    model, tool = (
        llm(matrix_gateway, provider, additional_kwargs={"reasoning_effort": "low"}),
        tools.FunctionTool.from_defaults(fn=get_weather),
    )
    mark = agent_upstream.mark()
    history = [llms.ChatMessage(role="user", content="What is the weather in Paris?")]
    first = model.chat_with_tools([tool], chat_history=history)
    calls = model.get_tool_calls_from_response(first, error_on_no_tool_call=True)
    assert [c.tool_name for c in calls] == ["get_weather"]
    history.append(first.message)
    history += [
        llms.ChatMessage(
            role="tool",
            content=get_weather(**c.tool_kwargs),
            additional_kwargs={"tool_call_id": c.tool_id, "name": c.tool_name},
        )
        for c in calls
    ]
    second = model.chat_with_tools([tool], chat_history=history)
    assert second.message.content == ANSWER
    _, last = assert_tool_loop(agent_upstream, mark, provider)
    if provider.claude:
        assert not last.reasoning


@pytest.mark.parametrize("provider", providers())
def test_structured_predict(matrix_gateway, agent_upstream, provider):
    mark = agent_upstream.mark()
    got = llm(matrix_gateway, provider).structured_predict(
        Weather, prompts.PromptTemplate("Weather in {city} as JSON"), city="Paris"
    )
    assert got == Weather(city="Paris", temp_c=21)
    (call,) = sent(agent_upstream, mark, provider)
    assert "temp_c" in str(call.body)


@pytest.mark.parametrize("provider", providers())
def test_stream_chat(matrix_gateway, agent_upstream, provider):
    mark = agent_upstream.mark()
    chunks = list(
        llm(matrix_gateway, provider).stream_chat(
            [llms.ChatMessage(role="user", content="Weather in Paris?")]
        )
    )
    assert "".join(c.delta or "" for c in chunks) == ANSWER
    (call,) = sent(agent_upstream, mark, provider)
    assert call.streamed
