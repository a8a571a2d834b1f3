"""Anthropic SSE → OpenAI chat.completion.chunk dicts, against the recorded streams."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from support.wire import WIRE
from switchyard.providers.anthropic import AnthropicProvider, AnthropicStreamParser
from switchyard.providers.anthropic.request import JSON_TOOL
from switchyard.providers.base import UpstreamError

FIXTURES = WIRE / "anthropic"
SSE_FILES = sorted(p.name for p in FIXTURES.glob("*.sse"))
CREATED = 1_700_000_000


def run(data: bytes, sizes: list[int] | None = None) -> list[dict[str, Any]]:
    """Feed `data` whole, or cut into pieces of the given sizes (cycled), then close."""
    parser = AnthropicStreamParser(created=CREATED)
    if sizes is None:
        return parser.feed(data) + parser.close()
    out: list[dict[str, Any]] = []
    pos, i = 0, 0
    while pos < len(data):
        step = sizes[i % len(sizes)]
        out += parser.feed(data[pos : pos + step])
        pos, i = pos + step, i + 1
    return out + parser.close()


def recorded_events(data: bytes) -> list[dict[str, Any]]:
    """An independent, naive reading of the recording: every `data:` line as JSON."""
    return [json.loads(line[5:]) for line in data.decode().splitlines() if line.startswith("data:")]


def accumulate(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold chunks the way an OpenAI client does."""
    msg: dict[str, Any] = {"content": "", "reasoning_content": "", "tool_calls": {}, "thinking_blocks": []}
    finish, usage = None, None
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert c["id"] and c["model"] and c["created"] == CREATED
        if c.get("usage"):
            assert c["choices"] == []
            usage = c["usage"]
        for choice in c["choices"]:
            d = choice["delta"]
            msg["content"] += d.get("content") or ""
            msg["reasoning_content"] += d.get("reasoning_content") or ""
            msg["thinking_blocks"] += d.get("thinking_blocks") or []
            for tc in d.get("tool_calls") or []:
                slot = msg["tool_calls"].setdefault(tc["index"], {"id": None, "name": None, "arguments": ""})
                slot["id"] = tc.get("id") or slot["id"]
                slot["name"] = (tc.get("function") or {}).get("name") or slot["name"]
                slot["arguments"] += (tc.get("function") or {}).get("arguments") or ""
            finish = choice["finish_reason"] or finish
    return {"message": msg, "finish_reason": finish, "usage": usage}


# --- every recording: splits do not matter ------------------------------------------------------


@pytest.mark.parametrize("name", SSE_FILES)
def test_any_byte_split_gives_identical_chunks(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    whole = run(data)
    assert whole, name
    for size in range(1, 8):
        assert run(data, [size]) == whole, (name, size)
    rng = random.Random(name)
    for _ in range(20):
        assert run(data, [rng.randint(1, 7) for _ in range(50)]) == whole, name


@pytest.mark.parametrize("name", SSE_FILES)
def test_stream_shape_invariants(name: str) -> None:
    chunks = run((FIXTURES / name).read_bytes())
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] is not None and all(f is None for f in finishes[:-1])


# --- per recording ------------------------------------------------------------------------------


def test_text_stream_exact() -> None:
    chunks = run((FIXTURES / "messages_stream_text.sse").read_bytes())
    base = {
        "id": "msg_018E1hg8GoVTGEKQY3ovMcSJ",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "claude-sonnet-4-5-20250929",
    }
    assert chunks == [
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": ""},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        },
        {
            **base,
            "choices": [{"index": 0, "delta": {"content": "2"}, "logprobs": None, "finish_reason": None}],
        },
        {**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]},
        {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": 20,
                "completion_tokens": 5,
                "total_tokens": 25,
                "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            },
        },
    ]


def test_tool_use_stream_reassembles_arguments() -> None:
    data = (FIXTURES / "messages_stream_tool_use.sse").read_bytes()
    events = recorded_events(data)
    partial = "".join(
        e["delta"]["partial_json"] for e in events if e.get("delta", {}).get("type") == "input_json_delta"
    )
    start = next(e["content_block"] for e in events if e.get("content_block", {}).get("type") == "tool_use")
    chunks = run(data)
    got = accumulate(chunks)
    assert got["message"]["content"] == "I'll check the current weather in Paris for you."
    assert got["message"]["tool_calls"] == {
        0: {"id": start["id"], "name": "get_weather", "arguments": partial},
    }
    assert (
        json.loads(got["message"]["tool_calls"][0]["arguments"])
        == {"location": "Paris"}
        == json.loads(partial)
    )
    assert got["finish_reason"] == "tool_calls"
    assert got["usage"]["prompt_tokens"] == 377 and got["usage"]["completion_tokens"] == 65
    # the first tool chunk announces id/name/type with empty arguments
    first = next(c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("tool_calls"))
    assert first["choices"][0]["delta"]["tool_calls"] == [
        {
            "index": 0,
            "id": start["id"],
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
    ]


def test_thinking_stream_reasoning_and_signature() -> None:
    data = (FIXTURES / "messages_stream_thinking.sse").read_bytes()
    events = recorded_events(data)
    deltas = [e["delta"] for e in events if e.get("type") == "content_block_delta"]
    thinking = "".join(d.get("thinking", "") for d in deltas if d["type"] == "thinking_delta")
    signature = "".join(d["signature"] for d in deltas if d["type"] == "signature_delta")
    text = "".join(d["text"] for d in deltas if d["type"] == "text_delta")
    got = accumulate(run(data))
    assert got["message"]["reasoning_content"] == thinking and thinking.startswith(
        "This is a straightforward"
    )
    assert got["message"]["content"] == text
    assert got["message"]["thinking_blocks"] == [
        {"type": "thinking", "thinking": thinking, "signature": signature}
    ]
    assert signature
    assert got["finish_reason"] == "stop"
    assert got["usage"] == {
        "prompt_tokens": 43,
        "completion_tokens": 282,
        "total_tokens": 325,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    }


def test_provider_stream_parser_is_fresh_each_time() -> None:
    provider = AnthropicProvider()
    a, b = provider.stream_parser(), provider.stream_parser()
    assert a is not b
    data = (FIXTURES / "messages_stream_text.sse").read_bytes()
    assert [c["choices"] for c in a.feed(data) + a.close()] == [
        c["choices"] for c in b.feed(data) + b.close()
    ]


# --- synthetic streams (event shapes from the spec's MessageStreamEvent) --------------------------


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


START = {
    "type": "message_start",
    "message": {
        "id": "msg_x",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [],
        "stop_reason": None,
        "usage": {
            "input_tokens": 5,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
            "output_tokens": 1,
        },
    },
}
TEXT_START = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
TEXT = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}
STOP0 = {"type": "content_block_stop", "index": 0}
DELTA = {
    "type": "message_delta",
    "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
    "usage": {"output_tokens": 9},
}
MSG_STOP = {"type": "message_stop"}


def test_cache_tokens_and_length_finish() -> None:
    got = accumulate(run(sse(START, TEXT_START, TEXT, STOP0, DELTA, MSG_STOP)))
    assert got["finish_reason"] == "length"
    assert got["usage"] == {
        "prompt_tokens": 125,
        "completion_tokens": 9,
        "total_tokens": 134,
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20},
    }


@pytest.mark.parametrize(
    ("etype", "status", "kind"),
    [("overloaded_error", 529, "overloaded"), ("api_error", 500, "server"), ("weird_error", 500, "server")],
)
def test_error_event_raises(etype: str, status: int, kind: str) -> None:
    parser = AnthropicStreamParser(created=CREATED)
    first = parser.feed(sse(START, TEXT_START, TEXT))
    assert accumulate(first)["message"]["content"] == "Hel"
    with pytest.raises(UpstreamError) as e:
        parser.feed(sse({"type": "error", "error": {"type": etype, "message": "Overloaded"}}))
    assert (e.value.status, e.value.kind, e.value.message, e.value.type) == (
        status,
        kind,
        "Overloaded",
        etype,
    )


@pytest.mark.parametrize(
    "events",
    [(START, TEXT_START, TEXT), (START,), (), (START, TEXT_START, TEXT, STOP0)],
    ids=["mid-text", "after-start", "empty", "after-block"],
)
def test_truncated_stream_raises_on_close(events: tuple[dict[str, Any], ...]) -> None:
    parser = AnthropicStreamParser(created=CREATED)
    parser.feed(sse(*events))
    with pytest.raises(UpstreamError) as e:
        parser.close()
    assert (e.value.status, e.value.kind) == (502, "server")
    assert "early" in e.value.message


def test_missing_message_stop_still_emits_usage_on_close() -> None:
    parser = AnthropicStreamParser(created=CREATED)
    chunks = parser.feed(sse(START, TEXT_START, TEXT, STOP0, DELTA))
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    tail = parser.close()
    assert len(tail) == 1 and tail[0]["choices"] == [] and tail[0]["usage"]["completion_tokens"] == 9


def test_invalid_json_event_raises() -> None:
    parser = AnthropicStreamParser(created=CREATED)
    with pytest.raises(UpstreamError) as e:
        parser.feed(b"event: content_block_delta\ndata: {not json\n\n")
    assert e.value.kind == "server"


def test_ping_comments_and_unknown_events_ignored() -> None:
    noise = (
        b': keep-alive\n\nevent: ping\ndata: {"type": "ping"}\n\nevent: future\ndata: {"type": "future"}\n\n'
    )
    base = run(sse(START, TEXT_START, TEXT, STOP0, DELTA, MSG_STOP))
    noisy = run(sse(START) + noise + sse(TEXT_START, TEXT, STOP0) + noise + sse(DELTA, MSG_STOP))
    assert noisy == base


def test_parallel_tool_calls_get_running_indexes() -> None:
    def tool(i: int, tid: str) -> list[dict[str, Any]]:
        return [
            {
                "type": "content_block_start",
                "index": i,
                "content_block": {"type": "tool_use", "id": tid, "name": "get_weather", "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": i,
                "delta": {"type": "input_json_delta", "partial_json": ""},
            },
            {
                "type": "content_block_delta",
                "index": i,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
            },
            {
                "type": "content_block_delta",
                "index": i,
                "delta": {"type": "input_json_delta", "partial_json": f'"{tid}"}}'},
            },
            {"type": "content_block_stop", "index": i},
        ]

    delta = {**DELTA, "delta": {"stop_reason": "tool_use"}}
    data = sse(START, TEXT_START, TEXT, STOP0, *tool(1, "ta"), *tool(2, "tb"), delta, MSG_STOP)
    got = accumulate(run(data))
    calls = got["message"]["tool_calls"]
    assert sorted(calls) == [0, 1]
    assert [calls[i]["id"] for i in (0, 1)] == ["ta", "tb"]
    assert [json.loads(calls[i]["arguments"]) for i in (0, 1)] == [{"city": "ta"}, {"city": "tb"}]
    assert got["finish_reason"] == "tool_calls"
    for size in (1, 3, 7):
        assert run(data, [size]) == run(data)


def test_redacted_thinking_and_json_tool_stream() -> None:
    red = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "redacted_thinking", "data": "opaque"},
    }
    jstart = {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {}},
    }
    jdelta = {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"a":1}'},
    }
    delta = {**DELTA, "delta": {"stop_reason": "tool_use"}}
    got = accumulate(
        run(
            sse(
                START, red, STOP0, jstart, jdelta, {"type": "content_block_stop", "index": 1}, delta, MSG_STOP
            )
        )
    )
    assert got["message"]["thinking_blocks"] == [{"type": "redacted_thinking", "data": "opaque"}]
    assert got["message"]["content"] == '{"a":1}'
    assert got["message"]["tool_calls"] == {}
    assert got["finish_reason"] == "stop"


def test_events_after_message_stop_are_ignored() -> None:
    data = sse(START, TEXT_START, TEXT, STOP0, DELTA, MSG_STOP)
    assert run(data + sse(TEXT)) == run(data)
