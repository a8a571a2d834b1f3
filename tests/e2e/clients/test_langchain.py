"""LangChain (`langchain-openai` ChatOpenAI, `langchain-anthropic` ChatAnthropic) through the gateway to every
translated provider: a two-turn tool loop with reasoning on, a structured output, a stream."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from support.client_matrix import ANSWER, assert_tool_loop, get_weather, providers, sent
from support.deferred_import import deferred

# imported when a test here runs, not in every xdist worker's collection
langchain_openai = deferred("langchain_openai")
langchain_anthropic = deferred("langchain_anthropic")
messages = deferred("langchain_core.messages")


class Weather(BaseModel):
    city: str
    temp_c: int


def _tool_loop(llm, upstream, provider):
    bound = llm.bind_tools([get_weather])
    mark = upstream.mark()
    history = [messages.HumanMessage("What is the weather in Paris?")]
    first = bound.invoke(history)
    assert [c["name"] for c in first.tool_calls] == ["get_weather"]
    history += [
        first,
        *(messages.ToolMessage(get_weather(**c["args"]), tool_call_id=c["id"]) for c in first.tool_calls),
    ]
    second = bound.invoke(history)
    assert second.text == ANSWER and not second.tool_calls
    return assert_tool_loop(upstream, mark, provider)


def chat_openai(gw, provider, **kw) -> langchain_openai.ChatOpenAI:
    return langchain_openai.ChatOpenAI(
        model=provider.model, base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, **kw
    )


def chat_anthropic(gw, provider, **kw) -> langchain_anthropic.ChatAnthropic:
    return langchain_anthropic.ChatAnthropic(
        model=provider.model, base_url=gw.url, api_key=gw.key, max_retries=0, **kw
    )


@pytest.mark.parametrize("provider", providers())
def test_chat_openai_tool_loop_with_reasoning(matrix_gateway, agent_upstream, provider):
    _, second = _tool_loop(
        chat_openai(matrix_gateway, provider, reasoning_effort="low"), agent_upstream, provider
    )
    if (
        provider.claude
    ):  # ChatOpenAI cannot carry a signed thinking block: the tool-result turn goes without thinking
        assert not second.reasoning


@pytest.mark.parametrize("provider", providers())
def test_chat_openai_structured_output(matrix_gateway, agent_upstream, provider):
    mark = agent_upstream.mark()
    llm = chat_openai(matrix_gateway, provider).with_structured_output(Weather)
    assert llm.invoke("Weather in Paris as JSON") == Weather(city="Paris", temp_c=21)
    (call,) = sent(agent_upstream, mark, provider)
    assert "Weather" in str(
        call.body
    )  # the schema reached the upstream (as a response format, tool or schema)


@pytest.mark.parametrize("provider", providers())
def test_chat_openai_stream(matrix_gateway, agent_upstream, provider):
    mark = agent_upstream.mark()
    chunks = list(chat_openai(matrix_gateway, provider, stream_usage=True).stream("Weather in Paris?"))
    assert "".join(c.text for c in chunks) == ANSWER
    assert sum(c.usage_metadata["output_tokens"] for c in chunks if c.usage_metadata) == 10
    (call,) = sent(agent_upstream, mark, provider)
    assert call.streamed


@pytest.mark.parametrize("provider", providers())
def test_chat_anthropic_tool_loop_with_thinking(matrix_gateway, agent_upstream, provider):
    llm = chat_anthropic(
        matrix_gateway, provider, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024}
    )
    _, second = _tool_loop(llm, agent_upstream, provider)
    if (
        provider.claude
    ):  # the signed thinking block went back untouched (the mock checks the signature it issued)
        assert second.reasoning and second.signed_thinking


@pytest.mark.parametrize("provider", providers())
def test_chat_anthropic_structured_output(matrix_gateway, agent_upstream, provider):
    mark = agent_upstream.mark()
    llm = chat_anthropic(matrix_gateway, provider, max_tokens=1024).with_structured_output(Weather)
    assert llm.invoke("Weather in Paris as JSON") == Weather(city="Paris", temp_c=21)
    (call,) = sent(agent_upstream, mark, provider)
    assert "Weather" in str(call.body)


@pytest.mark.parametrize("provider", providers())
def test_chat_anthropic_stream(matrix_gateway, agent_upstream, provider):
    mark = agent_upstream.mark()
    chunks = list(chat_anthropic(matrix_gateway, provider, max_tokens=1024).stream("Weather in Paris?"))
    assert "".join(c.text for c in chunks) == ANSWER
    (call,) = sent(agent_upstream, mark, provider)
    assert call.streamed
