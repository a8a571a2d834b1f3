"""Anthropic Messages caller surface: request and response mapping (formats/anthropic_messages.py).

Round trips go through the real Anthropic provider translator: an Anthropic request mapped to OpenAI by the
surface and back by `providers.anthropic.request.build_request` must equal what the caller sent; a recorded
Anthropic answer parsed by the provider and re-encoded by the surface must equal the recording.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.wire import exchange
from switchyard.errors import GatewayError
from switchyard.formats.anthropic_messages import MessagesSurface, effort_for_budget
from switchyard.formats.tool_args import parse_arguments as tool_input
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.base import Target, UpstreamError

PROVIDER = AnthropicProvider()
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    return MessagesSurface().request(body)


def to_anthropic(chat: dict[str, Any]) -> dict[str, Any]:
    target = Target(
        provider="anthropic",
        model=chat["model"],
        format="anthropic",
        base_url="https://api.anthropic.com/v1",
        api_key="sk-ant-test",
        auth="x-api-key",
    )
    return json.loads(PROVIDER.build_request(chat, target).body)


def normalize(body: dict[str, Any]) -> dict[str, Any]:
    """Equivalent Anthropic spellings made equal: a lone plain text block ≡ a string, stream false ≡ absent,
    an empty tool description ≡ none."""
    b = copy.deepcopy(body)
    if b.get("stream") is False:
        del b["stream"]

    def plain(content: Any) -> Any:
        if (
            isinstance(content, list)
            and len(content) == 1
            and content[0].get("type") == "text"
            and len(content[0]) == 2
        ):
            return content[0]["text"]
        return content

    if "system" in b:
        b["system"] = plain(b["system"])
    for m in b["messages"]:
        m["content"] = plain(m["content"])
    for t in b.get("tools") or ():
        if t.get("description") == "":
            del t["description"]
    return b


def base(**kw: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hi"}],
        **kw,
    }


# --- recorded requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["anthropic/messages.json", "anthropic/messages_tool_use.json"])
def test_recorded_request_round_trips(name: str) -> None:
    original = exchange(name)["request"]["body"]
    assert normalize(to_anthropic(to_chat(original))) == normalize(original)


def test_recorded_tool_request_maps_to_openai() -> None:
    chat = to_chat(exchange("anthropic/messages_tool_use.json")["request"]["body"])
    assert chat["tool_choice"] == "required"
    assert chat["messages"] == [{"role": "user", "content": "What is the largest city in the user country?"}]
    assert chat["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_user_country",
            "description": "",
            "parameters": {"additionalProperties": False, "properties": {}, "type": "object"},
        },
    }
    assert chat["stream"] is False and "stream_options" not in chat


# --- request mapping, case by case ------------------------------------------------------------------


def test_system_string_and_blocks_with_cache_control() -> None:
    assert to_chat(base(system="Be brief."))["messages"][0] == {"role": "system", "content": "Be brief."}
    cc = {"type": "ephemeral"}
    chat = to_chat(
        base(system=[{"type": "text", "text": "A"}, {"type": "text", "text": "B", "cache_control": cc}])
    )
    assert chat["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B", "cache_control": cc}],
    }
    assert to_chat(base(system=[{"type": "text", "text": "A"}]))["messages"][0]["content"] == "A"
    assert to_chat(base(system=""))["messages"][0]["role"] == "user"


def test_images_become_image_url_parts() -> None:
    chat = to_chat(
        base(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                        },
                        {
                            "type": "image",
                            "source": {"type": "url", "url": "https://example.com/cat.jpg"},
                            "cache_control": {"type": "ephemeral"},
                        },
                        {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
                        {"type": "text", "text": "What are these?"},
                    ],
                }
            ]
        )
    )
    assert chat["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {
            "type": "image_url",
            "image_url": {"url": "https://example.com/cat.jpg"},
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
        {"type": "text", "text": "What are these?"},
    ]


def test_document_blocks_pass_through() -> None:
    doc = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        "title": "spec.pdf",
        "citations": {"enabled": True},
    }
    chat = to_chat(base(messages=[{"role": "user", "content": [doc, {"type": "text", "text": "Summarise"}]}]))
    assert chat["messages"][0]["content"][0] == doc


def test_tool_use_and_tool_results() -> None:
    chat = to_chat(
        base(
            messages=[
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Checking."},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "weather",
                            "input": {"city": "Paris", "unit": "c"},
                        },
                        {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Rome"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Also, be quick."},
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_2",
                            "is_error": True,
                            "content": [
                                {"type": "text", "text": "service"},
                                {"type": "text", "text": "down"},
                            ],
                        },
                    ],
                },
            ]
        )
    )
    assert chat["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris","unit":"c"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "service\ndown", "is_error": True},
        {"role": "user", "content": "Also, be quick."},
    ]


def test_tool_only_assistant_turn_has_null_content_and_tool_only_user_turn_has_no_user_message() -> None:
    chat = to_chat(
        base(
            messages=[
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]},
            ]
        )
    )
    assert chat["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    assert chat["messages"][2:] == [{"role": "tool", "tool_call_id": "t", "content": ""}]


def test_tool_result_with_image_keeps_parts_and_cache_control() -> None:
    chat = to_chat(
        base(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t",
                            "cache_control": {"type": "ephemeral"},
                            "content": [
                                {"type": "text", "text": "chart:"},
                                {
                                    "type": "image",
                                    "source": {"type": "base64", "media_type": "image/png", "data": "AA=="},
                                },
                            ],
                        }
                    ],
                }
            ]
        )
    )
    assert chat["messages"][0] == {
        "role": "tool",
        "tool_call_id": "t",
        "cache_control": {"type": "ephemeral"},
        "content": [
            {"type": "text", "text": "chart:"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
        ],
    }


def test_thinking_blocks_on_assistant_turns() -> None:
    chat = to_chat(
        base(
            messages=[
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "let me see", "signature": "sig1"},
                        {"type": "redacted_thinking", "data": "opaque"},
                        {"type": "text", "text": "A"},
                    ],
                },
                {"role": "user", "content": "more"},
            ]
        )
    )
    assert chat["messages"][1] == {
        "role": "assistant",
        "content": "A",
        "thinking_blocks": [
            {"type": "thinking", "thinking": "let me see", "signature": "sig1"},
            {"type": "redacted_thinking", "data": "opaque"},
        ],
    }


def test_tools_and_tool_choice() -> None:
    tools = [
        {
            "name": "f",
            "description": "does f",
            "input_schema": {"type": "object", "properties": {"a": {"type": "integer"}}},
            "cache_control": {"type": "ephemeral"},
        },
        {"name": "g", "input_schema": {"type": "object"}, "strict": True},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
    ]
    chat = to_chat(base(tools=tools))
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {"name": "f", "description": "does f", "parameters": tools[0]["input_schema"]},
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "function", "function": {"name": "g", "parameters": {"type": "object"}, "strict": True}},
        tools[2],
    ]
    assert "tool_choice" not in chat and "parallel_tool_calls" not in chat
    cases = [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}),
    ]
    for choice, expected in cases:
        assert to_chat(base(tools=tools, tool_choice=choice))["tool_choice"] == expected
    chat = to_chat(base(tools=tools, tool_choice={"type": "any", "disable_parallel_tool_use": True}))
    assert chat["parallel_tool_calls"] is False


def test_scalar_parameters() -> None:
    chat = to_chat(
        base(
            stop_sequences=["END", "STOP"],
            temperature=0.2,
            top_p=0.9,
            top_k=40,
            stream=True,
            metadata={"user_id": "u-42"},
            service_tier="auto",
        )
    )
    assert chat == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "messages": [{"role": "user", "content": "Hi"}],
        "stop": ["END", "STOP"],
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "u-42",
    }


@pytest.mark.parametrize(
    ("budget", "effort"),
    [(1024, "low"), (2048, "low"), (2049, "medium"), (8192, "medium"), (8193, "high"), (32000, "high")],
)
def test_thinking_budget_to_effort(budget: int, effort: str) -> None:
    thinking = {"type": "enabled", "budget_tokens": budget}
    chat = to_chat(base(max_tokens=64000, thinking=thinking))
    assert chat["reasoning_effort"] == effort == effort_for_budget(budget)
    assert chat["thinking"] == thinking
    assert (
        to_anthropic(chat)["thinking"] == thinking
    )  # an Anthropic upstream gets exactly what the caller asked


def test_thinking_disabled_or_adaptive_sets_no_effort() -> None:
    for thinking in ({"type": "disabled"}, {"type": "adaptive"}):
        chat = to_chat(base(thinking=thinking))
        assert chat["thinking"] == thinking and "reasoning_effort" not in chat


def test_rich_request_round_trips_through_the_anthropic_provider() -> None:
    cc = {"type": "ephemeral"}
    original = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 20000,
        "system": [
            {"type": "text", "text": "You are terse."},
            {"type": "text", "text": "Big context.", "cache_control": cc},
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                    },
                    {"type": "text", "text": "Compare.", "cache_control": cc},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "xyz"},
                    {"type": "text", "text": "Need data."},
                    {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "a", "n": [1, 2]}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"},
                    {"type": "text", "text": "Go on."},
                ],
            },
        ],
        "tools": [
            {
                "name": "lookup",
                "description": "Look up",
                "cache_control": cc,
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            }
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "thinking": {"type": "enabled", "budget_tokens": 4096},
        "stop_sequences": ["###"],
        "top_p": 0.97,
        "metadata": {"user_id": "caller-7"},
        "stream": True,
    }
    assert normalize(to_anthropic(to_chat(original))) == normalize(original)


def test_plain_sampling_request_round_trips() -> None:
    original = base(
        temperature=0.5,
        top_k=10,
        stop_sequences=["x"],
        messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ],
    )
    assert to_anthropic(to_chat(original)) == original


def test_request_does_not_mutate_the_callers_body() -> None:
    body = exchange("anthropic/messages_tool_use.json")["request"]["body"]
    before = copy.deepcopy(body)
    to_anthropic(to_chat(body))
    assert body == before


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"model": "m", "max_tokens": 10}, "'messages'"),
        ({"model": "m", "max_tokens": 10, "messages": []}, "'messages'"),
        ({"model": "m", "max_tokens": 10, "messages": "hi"}, "'messages'"),
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, "'max_tokens'"),
        (base(max_tokens=0), "'max_tokens'"),
        (base(max_tokens="10"), "'max_tokens'"),
        (base(max_tokens=True), "'max_tokens'"),
        (base(messages=[{"role": "system", "content": "x"}]), "messages[0].role"),
        (base(messages=["hi"]), "messages[0]"),
        (base(messages=[{"role": "user"}]), "messages[0].content"),
        (base(messages=[{"role": "user", "content": [{"text": "no type"}]}]), "messages[0].content[0]"),
        (base(system=[{"type": "image", "source": {}}]), "system[0]"),
        (base(system=42), "'system'"),
        (base(tools=[{"input_schema": {}}]), "tools[0].name"),
        (base(tools=[{"name": "f", "input_schema": {}}], tool_choice={"type": "sometimes"}), "tool_choice"),
        (base(thinking="on"), "'thinking'"),
    ],
)
def test_invalid_requests_are_400s(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(GatewayError) as info:
        to_chat(body)
    err = info.value
    assert err.status == 400 and fragment in err.message
    assert orjson.loads(err.anthropic_body())["error"]["type"] == "invalid_request_error"


# --- response mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["anthropic/messages.json", "anthropic/messages_tool_use.json"])
def test_recorded_response_round_trips(name: str) -> None:
    recorded = exchange(name)["response"]["body"]
    got = MessagesSurface().response(PROVIDER.parse_response(orjson.dumps(recorded)))
    for key in ("id", "type", "role", "model", "content", "stop_reason", "stop_sequence"):
        assert got[key] == recorded[key], key
    assert got["usage"] == {k: recorded["usage"][k] for k in USAGE_KEYS}


def test_thinking_response_round_trips_with_signatures_and_cache_usage() -> None:
    recorded = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "step 1", "signature": "sigA"},
            {"type": "redacted_thinking", "data": "blob"},
            {"type": "text", "text": "Answer"},
            {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"k": [1, {"z": None}]}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 40,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 300,
        },
    }
    assert MessagesSurface().response(PROVIDER.parse_response(orjson.dumps(recorded))) == recorded


def test_openai_tool_call_completion() -> None:
    completion = exchange("openai/chat_completion_tool_calls.json")["response"]["body"]
    got = MessagesSurface().response(completion)
    assert got["id"] == "msg_" + completion["id"]
    assert got["stop_reason"] == "tool_use"
    calls = completion["choices"][0]["message"]["tool_calls"]
    assert [b for b in got["content"] if b["type"] == "tool_use"] == [
        {
            "type": "tool_use",
            "id": c["id"],
            "name": c["function"]["name"],
            "input": json.loads(c["function"]["arguments"]),
        }
        for c in calls
    ]
    u = completion["usage"]
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    assert got["usage"] == {
        "input_tokens": u["prompt_tokens"] - cached,
        "output_tokens": u["completion_tokens"],
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def test_openai_length_completion() -> None:
    completion = exchange("openai/chat_completion_length.json")["response"]["body"]
    got = MessagesSurface().response(completion)
    assert got["stop_reason"] == "max_tokens"
    assert got["content"] == [{"type": "text", "text": completion["choices"][0]["message"]["content"]}]


def completion(
    message: dict[str, Any], finish: str = "stop", usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-x",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        **({"usage": usage} if usage else {}),
    }


def test_reasoning_content_becomes_an_unsigned_thinking_block() -> None:
    got = MessagesSurface().response(completion({"content": "4", "reasoning_content": "2+2"}))
    assert got["content"] == [
        {"type": "thinking", "thinking": "2+2", "signature": ""},
        {"type": "text", "text": "4"},
    ]


def test_refusal_and_content_filter() -> None:
    got = MessagesSurface().response(
        completion({"content": None, "refusal": "I can't help."}, "content_filter")
    )
    assert got["content"] == [{"type": "text", "text": "I can't help."}] and got["stop_reason"] == "refusal"


def test_invalid_tool_arguments_are_kept_raw() -> None:
    msg = {
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1'}},
            {"id": "c2", "type": "function", "function": {"name": "g", "arguments": ""}},
            {"type": "function", "function": {"name": "h", "arguments": "[1]"}},
        ],
    }
    got = MessagesSurface().response(completion(msg, "tool_calls"))["content"]
    assert got[0]["input"] == {"_raw": '{"a": 1'}
    assert got[1]["input"] == {}
    assert got[2]["input"] == {"_raw": "[1]"} and got[2]["id"].startswith("toolu_")
    assert tool_input({"already": "object"}) == {"already": "object"}


def test_forced_tool_with_finish_stop_is_tool_use_and_empty_answer_is_valid() -> None:
    msg = {
        "content": None,
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    assert MessagesSurface().response(completion(msg, "stop"))["stop_reason"] == "tool_use"
    empty = MessagesSurface().response({"choices": []})
    assert empty["content"] == [] and empty["stop_reason"] == "end_turn" and empty["id"].startswith("msg_")
    assert empty["usage"] == dict.fromkeys(
        ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"), 0
    )


def test_usage_subtracts_cache_reads_and_writes() -> None:
    usage = {
        "prompt_tokens": 1500,
        "completion_tokens": 20,
        "total_tokens": 1520,
        "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 400},
    }
    got = MessagesSurface().response(completion({"content": "x"}, usage=usage))["usage"]
    assert got == {
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 400,
    }


def test_surface_attributes() -> None:
    s = MessagesSurface()
    assert s.object_name == "message" and s.upstream_path == "chat/completions"


# --- property: nothing is dropped -------------------------------------------------------------------

_text = st.text(min_size=1, max_size=12)
_ident = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=8)
_text_block = st.builds(lambda t: {"type": "text", "text": t}, _text)
_int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)  # what an orjson-parsed body can hold
_json = st.recursive(
    st.none() | st.booleans() | _int64 | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
_tool_use = st.builds(
    lambda i, n, inp: {"type": "tool_use", "id": "toolu_" + i, "name": n, "input": inp},
    _ident,
    _ident,
    st.dictionaries(st.text(max_size=5), _json, max_size=3),
)
_tool_result = st.builds(
    lambda i, c, err: {
        "type": "tool_result",
        "tool_use_id": "toolu_" + i,
        "content": c,
        **({"is_error": True} if err else {}),
    },
    _ident,
    _text | st.lists(_text_block, min_size=1, max_size=3),
    st.booleans(),
)
_user = st.builds(
    lambda c: {"role": "user", "content": c},
    _text | st.lists(st.one_of(_text_block, _tool_result), min_size=1, max_size=4),
)
_assistant = st.builds(
    lambda c: {"role": "assistant", "content": c},
    _text | st.lists(st.one_of(_text_block, _tool_use), min_size=1, max_size=4),
)
_tool_def = st.builds(
    lambda n, d: {"name": n, "input_schema": {"type": "object", "properties": {}}, **d},
    _ident,
    st.fixed_dictionaries({}, optional={"description": st.text(max_size=10)}),
)
_request = st.builds(
    lambda msgs, tools, choice, system: {
        "model": "claude-x",
        "max_tokens": 512,
        "messages": msgs,
        **({"tools": tools} if tools else {}),
        **({"tool_choice": choice} if choice and tools else {}),
        **({"system": system} if system else {}),
    },
    st.lists(_user | _assistant, min_size=1, max_size=6),
    st.lists(_tool_def, max_size=3),
    st.none() | st.sampled_from([{"type": "auto"}, {"type": "any"}, {"type": "none"}]),
    st.none() | _text,
)


def _blocks(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        b
        for m in body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == kind
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_request)
def test_request_never_raises_and_never_drops_anything(body: dict[str, Any]) -> None:
    chat = to_chat(body)
    msgs = chat["messages"]
    # every message survives: each Anthropic message yields at least one OpenAI message, in order
    roles = [m["role"] for m in msgs if m["role"] != "system"]
    expected_min = sum(1 for m in body["messages"])
    assert len(roles) >= expected_min
    # every tool result, in order, with its text
    results = _blocks(body, "tool_result")
    tool_msgs = [m for m in msgs if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == [r["tool_use_id"] for r in results]
    for m, r in zip(tool_msgs, results, strict=True):
        want = r["content"] if isinstance(r["content"], str) else "\n".join(b["text"] for b in r["content"])
        assert m["content"] == want
        assert m.get("is_error", False) == r.get("is_error", False)
    # every tool use, in order, with its input
    uses = _blocks(body, "tool_use")
    calls = [c for m in msgs if m["role"] == "assistant" for c in m.get("tool_calls") or ()]
    assert [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        (u["id"], u["name"], u["input"]) for u in uses
    ]

    # every text, in order
    def texts(content: Any) -> list[str]:
        return [content] if isinstance(content, str) else [b["text"] for b in content if b["type"] == "text"]

    want_texts = [t for m in body["messages"] for t in texts(m["content"])]
    got_texts = [
        t
        for m in msgs
        if m["role"] in ("user", "assistant") and m["content"] is not None
        for t in (texts(m["content"]) if m["content"] != "" else [])
    ]
    assert sorted(got_texts) == sorted(want_texts)
    # every tool
    assert [t["function"]["name"] for t in chat.get("tools", [])] == [
        t["name"] for t in body.get("tools", [])
    ]
    # and the Anthropic provider can send it back without losing a tool use or tool result; a conversation of
    # whitespace-only text (which Anthropic refuses) is the one thing it may refuse, with a 400
    try:
        back = to_anthropic(chat)
    except UpstreamError as refused:
        assert refused.status == 400 and not uses and not results and not any(t.strip() for t in want_texts)
        return
    assert [b["id"] for b in _blocks(back, "tool_use")] == [u["id"] for u in uses]
    assert [b["tool_use_id"] for b in _blocks(back, "tool_result")] == [r["tool_use_id"] for r in results]
    assert [b["input"] for b in _blocks(back, "tool_use")] == [u["input"] for u in uses]


def test_structured_outputs_of_an_anthropic_caller_reach_every_provider() -> None:
    """`output_config.format` (and the beta's `output_format`) become `response_format`, never a silent drop."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    base = {"model": "gpt-4o-mini", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    for body in (
        {**base, "output_config": {"format": {"type": "json_schema", "schema": schema}}},
        {**base, "output_format": {"type": "json_schema", "schema": schema}},
    ):
        chat = to_chat(body)
        assert chat["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema},
        }
    with pytest.raises(GatewayError) as e:
        to_chat({**base, "output_config": {"format": {"type": "xml"}}})
    assert e.value.status == 400 and e.value.param == "output_config.format"
