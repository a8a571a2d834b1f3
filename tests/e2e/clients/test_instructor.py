"""instructor (on the official OpenAI SDK) through the gateway to every translated provider: a re-ask loop (the
first answer fails validation, instructor sends the error back as the tool's result) with reasoning on, JSON mode,
and a streamed partial object."""

from __future__ import annotations

import instructor
import openai
import pytest
from pydantic import BaseModel, field_validator

from support.client_matrix import providers, sent


class Weather(BaseModel):
    city: str
    temp_c: int


def client(gw, mode: instructor.Mode) -> instructor.Instructor:
    return instructor.from_openai(
        openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0), mode=mode
    )


@pytest.mark.parametrize("provider", providers())
def test_reask_tool_loop_with_reasoning(matrix_gateway, agent_upstream, provider):
    attempts: list[str] = []

    class Checked(Weather):
        @field_validator("city")
        @classmethod
        def _second_time_lucky(cls, v: str) -> str:
            attempts.append(v)
            if len(attempts) == 1:
                raise ValueError("name the city in capitals")
            return v

    mark = agent_upstream.mark()
    got = client(matrix_gateway, instructor.Mode.TOOLS).chat.completions.create(
        model=provider.model,
        response_model=Checked,
        max_retries=2,
        reasoning_effort="low",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert got.model_dump() == {"city": "Paris", "temp_c": 21} and len(attempts) == 2
    first, second = sent(agent_upstream, mark, provider)
    assert not first.tool_results
    ((result_id, text),) = second.tool_results
    assert result_id in second.tool_calls and "name the city in capitals" in text
    # TOOLS mode forces the tool; Claude refuses thinking with a forced tool, so the gateway leaves thinking off
    assert first.reasoning != provider.claude and second.reasoning != provider.claude


@pytest.mark.parametrize("provider", providers())
def test_json_mode(matrix_gateway, agent_upstream, provider):
    mark = agent_upstream.mark()
    got = client(matrix_gateway, instructor.Mode.JSON).chat.completions.create(
        model=provider.model,
        response_model=Weather,
        max_retries=0,
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
    )
    assert got.model_dump() == {"city": "Paris", "temp_c": 21}
    (call,) = sent(agent_upstream, mark, provider)
    assert "temp_c" in str(call.body)  # instructor puts the schema in the prompt


@pytest.mark.parametrize("provider", providers())
def test_partial_stream(matrix_gateway, agent_upstream, provider):
    mark = agent_upstream.mark()
    partials = list(
        client(matrix_gateway, instructor.Mode.TOOLS).chat.completions.create_partial(
            model=provider.model,
            response_model=Weather,
            max_retries=0,
            messages=[{"role": "user", "content": "Weather in Paris?"}],
        )
    )
    assert partials[-1].model_dump() == {"city": "Paris", "temp_c": 21}
    (call,) = sent(agent_upstream, mark, provider)
    assert call.streamed
