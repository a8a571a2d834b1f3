"""The client matrix's agent upstream (tests/support/agent_upstream.py) refuses what the providers refuse; a mock
that accepted these bodies would let the matrix pass on the bugs issue 11 lists."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from botocore.eventstream import EventStreamBuffer

from support.agent_upstream import AgentUpstream

UNSIGNED_TOOL_TURN = [
    {"role": "user", "content": "Weather?"},
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "21"}]},
]
THINKING = {"type": "enabled", "budget_tokens": 1024}
TOOL = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
CONVERSE_TOOLS = {
    "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]
}
CONVERSE_HISTORY = [
    {"role": "user", "content": [{"text": "Weather?"}]},
    {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": "tu_1", "name": "get_weather", "input": {}}}],
    },
    {"role": "user", "content": [{"toolResult": {"toolUseId": "tu_1", "content": [{"text": "21"}]}}]},
]
CHAT_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
}
CLAUDE = "/bedrock/model/anthropic.claude-sonnet-4-20250514-v1:0"


@pytest.fixture(scope="module")
def mock() -> Iterator[AgentUpstream]:
    m = AgentUpstream().start()
    yield m
    m.stop()


REFUSED = [
    (
        "/anthropic/v1/messages",
        {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 2048,
            "thinking": THINKING,
            "tools": [TOOL],
            "messages": UNSIGNED_TOOL_TURN,
        },
        "must start with a thinking block",
    ),
    (
        "/anthropic/v1/messages",
        {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 2048,
            "thinking": THINKING,
            "tools": [TOOL],
            "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "x"}],
        },
        "tool_choice forces tool use",
    ),
    (
        "/anthropic/v1/messages",
        {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 2048,
            "thinking": THINKING,
            "tools": [TOOL],
            "messages": [
                UNSIGNED_TOOL_TURN[0],
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "t", "signature": "forged"},
                        *UNSIGNED_TOOL_TURN[1]["content"],
                    ],
                },
                UNSIGNED_TOOL_TURN[2],
            ],
        },
        "Invalid `signature`",
    ),
    (
        "/anthropic/v1/messages",
        {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 128000,
            "messages": [{"role": "user", "content": "x"}],
        },
        "maximum allowed number of output tokens",
    ),
    (
        "/anthropic/v1/messages",
        {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 100,
            "temperature": 1.5,
            "messages": [{"role": "user", "content": "x"}],
        },
        "temperature",
    ),
    (
        "/anthropic/v1/messages",
        {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 100,
            "tools": [TOOL],
            "messages": [
                *UNSIGNED_TOOL_TURN[:2],
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_other"}]},
            ],
        },
        "without `tool_result` blocks",
    ),
    (
        f"{CLAUDE}/converse",
        {
            "messages": CONVERSE_HISTORY,
            "toolConfig": CONVERSE_TOOLS,
            "inferenceConfig": {"maxTokens": 2048},
            "additionalModelRequestFields": {"thinking": THINKING},
        },
        "must start with a thinking block",
    ),
    (f"{CLAUDE}/converse", {"messages": CONVERSE_HISTORY}, "toolConfig field must be defined"),
    (
        f"{CLAUDE}/invoke",
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 2048,
            "thinking": THINKING,
            "tools": [TOOL],
            "messages": UNSIGNED_TOOL_TURN,
        },
        "must start with a thinking block",
    ),
    (
        "/vertex/v1/projects/p/locations/r/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict",
        {
            "anthropic_version": "vertex-2023-10-16",
            "max_tokens": 100,
            "temperature": 0.5,
            "thinking": THINKING,
            "messages": [{"role": "user", "content": "x"}],
        },
        "temperature",
    ),
    (
        "/openai/v1/chat/completions",
        {"model": "gpt-5-mini", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]},
        "Use 'max_completion_tokens' instead",
    ),
    (
        "/openai/v1/chat/completions",
        {"model": "o4-mini", "temperature": 0.1, "messages": [{"role": "user", "content": "x"}]},
        "Only the default (1) value is supported",
    ),
    (
        "/openai/v1/chat/completions",
        {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "tool", "tool_call_id": "call_1", "content": "21"},
            ],
        },
        "must be a response",
    ),
    (
        "/openai/v1/chat/completions",
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "x"}, CHAT_CALL, {"role": "user", "content": "y"}],
        },
        "did not have response messages",
    ),
    (
        "/openai/v1/responses",
        {"model": "gpt-5-mini", "previous_response_id": "resp_unknown", "input": "x"},
        "not found",
    ),
    (
        "/openai/v1/responses",
        {"model": "gpt-5-mini", "input": [{"type": "item_reference", "id": "fc_unknown"}]},
        "not found",
    ),
    (
        "/openai/v1/responses",
        {"model": "gpt-5-mini", "input": [{"type": "function_call_output", "call_id": "c", "output": "1"}]},
        "No tool call found",
    ),
    (
        "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
        {
            "contents": [
                {"role": "user", "parts": [{"text": "x"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "f", "response": {}}},
                        {"functionResponse": {"name": "f", "response": {}}},
                    ],
                },
            ]
        },
        "number of function response parts",
    ),
]


@pytest.mark.parametrize(("path", "body", "message"), REFUSED, ids=[f"{i}" for i in range(len(REFUSED))])
def test_refuses_what_the_provider_refuses(mock, path, body, message):
    r = httpx.post(mock.url + path, json=body)
    assert r.status_code == 400 and message in r.text, r.text


def test_answers_a_tool_loop_in_converse_shape(mock):
    """The accepted form of the refused loop above: a signed thinking block first, then the answer in text."""
    first = httpx.post(
        f"{mock.url}{CLAUDE}/converse",
        json={
            "messages": CONVERSE_HISTORY[:1],
            "toolConfig": CONVERSE_TOOLS,
            "inferenceConfig": {"maxTokens": 2048},
            "additionalModelRequestFields": {"thinking": THINKING},
        },
    ).json()
    blocks = first["output"]["message"]["content"]
    assert first["stopReason"] == "tool_use" and "reasoningContent" in blocks[0]
    use = blocks[1]["toolUse"]
    history = [
        CONVERSE_HISTORY[0],
        {"role": "assistant", "content": blocks},
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "21"}]}}],
        },
    ]
    r = httpx.post(
        f"{mock.url}{CLAUDE}/converse-stream",
        json={
            "messages": history,
            "toolConfig": CONVERSE_TOOLS,
            "inferenceConfig": {"maxTokens": 2048},
            "additionalModelRequestFields": {"thinking": THINKING},
        },
    )
    assert r.status_code == 200, r.text
    buf = EventStreamBuffer()
    buf.add_data(r.content)
    kinds = [m.headers[":event-type"] for m in buf]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
