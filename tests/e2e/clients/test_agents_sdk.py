"""The OpenAI Agents SDK (`openai-agents`), with its chat-completions model and its Responses model, through the
gateway to every translated provider: a two-turn tool loop with reasoning on, a structured output, a stream."""

from __future__ import annotations

import pytest
from openai import AsyncOpenAI
from openai.types.shared import Reasoning
from pydantic import BaseModel

from support.client_matrix import ANSWER, assert_tool_loop, get_weather, providers, sent
from support.deferred_import import deferred

agents = deferred("agents")  # imported when a test here runs, not in every xdist worker's collection

MODELS = {"chat": "OpenAIChatCompletionsModel", "responses": "OpenAIResponsesModel"}


@pytest.fixture(autouse=True, scope="module")
def _no_tracing() -> None:
    agents.set_tracing_disabled(True)  # the SDK would otherwise export traces to api.openai.com


class Weather(BaseModel):
    city: str
    temp_c: int


def agent(gw, provider, kind: str, **kw) -> agents.Agent:
    client = AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
    return agents.Agent(
        name="weather",
        instructions="Answer briefly.",
        model=getattr(agents, MODELS[kind])(provider.model, client),
        **kw,
    )


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("provider", providers())
async def test_tool_loop_with_reasoning(matrix_gateway, agent_upstream, provider, kind):
    mark = agent_upstream.mark()
    weather = agent(
        matrix_gateway,
        provider,
        kind,
        tools=[agents.function_tool(get_weather)],
        model_settings=agents.ModelSettings(reasoning=Reasoning(effort="low")),
    )
    result = await agents.Runner.run(weather, "What is the weather in Paris?")
    assert result.final_output == ANSWER
    assert [type(i).__name__ for i in result.new_items] == [
        "ToolCallItem",
        "ToolCallOutputItem",
        "MessageOutputItem",
    ] or ("ReasoningItem" in {type(i).__name__ for i in result.new_items})
    _, second = assert_tool_loop(agent_upstream, mark, provider)
    if provider.claude and kind == "chat":  # chat completions cannot carry a signed thinking block back
        assert not second.reasoning
    if (
        provider.claude and kind == "responses"
    ):  # a reasoning item can: thinking stays on, signed block returned
        assert second.reasoning and second.signed_thinking


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("provider", providers())
async def test_structured_output(matrix_gateway, agent_upstream, provider, kind):
    mark = agent_upstream.mark()
    result = await agents.Runner.run(
        agent(matrix_gateway, provider, kind, output_type=Weather), "Weather in Paris as JSON"
    )
    assert result.final_output == Weather(city="Paris", temp_c=21)
    (call,) = sent(agent_upstream, mark, provider)
    assert "temp_c" in str(call.body)


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("provider", providers())
async def test_stream(matrix_gateway, agent_upstream, provider, kind):
    mark = agent_upstream.mark()
    result = agents.Runner.run_streamed(agent(matrix_gateway, provider, kind), "Weather in Paris?")
    deltas = [
        e.data.delta
        async for e in result.stream_events()
        if e.type == "raw_response_event" and e.data.type == "response.output_text.delta"
    ]
    assert "".join(deltas) == ANSWER and result.final_output == ANSWER
    (call,) = sent(agent_upstream, mark, provider)
    assert call.streamed
