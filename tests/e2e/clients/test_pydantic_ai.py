"""pydantic-ai (OpenAI chat and Responses models) through the gateway to every translated provider: a two-turn tool
loop with reasoning on, a structured output, a stream.

Not here: pydantic-ai's AnthropicModel. The newest pydantic-ai that accepts openai 2.x (2.31.1; litellm holds openai
below 3) calls `BetaMessageParam(...)`, which anthropic 2.12 turned into a Union ("TypeError: Cannot instantiate
typing.Union"), and hands the SDK an httpx client that anthropic>=2.11 refuses (it uses httpx2). The Anthropic
surface is covered by LangChain's ChatAnthropic and the official SDK instead.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from support.client_matrix import ANSWER, assert_tool_loop, get_weather, providers, sent
from support.deferred_import import deferred

# imported when a test here runs, not in every xdist worker's collection
pydantic_ai = deferred("pydantic_ai")
models = deferred("pydantic_ai.models.openai")
openai_provider = deferred("pydantic_ai.providers.openai")

KINDS = ["chat", "responses"]


class Weather(BaseModel):
    city: str
    temp_c: int


def model(gw, provider, kind: str):
    openai = openai_provider.OpenAIProvider(base_url=f"{gw.url}/v1", api_key=gw.key)
    return (models.OpenAIChatModel if kind == "chat" else models.OpenAIResponsesModel)(
        provider.model, provider=openai
    )


def reasoning(kind: str):
    if kind == "chat":
        return models.OpenAIChatModelSettings(openai_reasoning_effort="low")
    return models.OpenAIResponsesModelSettings(openai_reasoning_effort="low")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", providers())
async def test_tool_loop_with_reasoning(matrix_gateway, agent_upstream, provider, kind):
    mark = agent_upstream.mark()
    agent = pydantic_ai.Agent(
        model(matrix_gateway, provider, kind), tools=[get_weather], model_settings=reasoning(kind)
    )
    result = await agent.run("What is the weather in Paris?")
    assert result.output == ANSWER
    calls = [p for m in result.all_messages() for p in m.parts if p.part_kind == "tool-call"]
    assert [c.tool_name for c in calls] == ["get_weather"]
    _, second = assert_tool_loop(agent_upstream, mark, provider)
    if provider.claude and kind == "chat":  # chat completions cannot carry a signed thinking block back
        assert not second.reasoning


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", providers())
async def test_structured_output(matrix_gateway, agent_upstream, provider, kind):
    mark = agent_upstream.mark()
    agent = pydantic_ai.Agent(model(matrix_gateway, provider, kind), output_type=Weather)
    result = await agent.run("Weather in Paris as JSON")
    assert result.output == Weather(city="Paris", temp_c=21)
    (call,) = sent(agent_upstream, mark, provider)
    assert "temp_c" in str(call.body)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", providers())
async def test_stream(matrix_gateway, agent_upstream, provider, kind):
    mark = agent_upstream.mark()
    agent = pydantic_ai.Agent(model(matrix_gateway, provider, kind))
    async with agent.run_stream("Weather in Paris?") as run:
        pieces = [t async for t in run.stream_text(delta=True)]
    assert "".join(pieces) == ANSWER
    (call,) = sent(agent_upstream, mark, provider)
    assert call.streamed
