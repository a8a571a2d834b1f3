"""Bedrock ConverseStream (binary event stream) → OpenAI chat.completion.chunk dicts. SYNTHETIC fixtures."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from botocore.eventstream import EventStreamBuffer

from fixtures.synthetic.bedrock.eventstream import binary_for, encode, event, exception, frame, sources
from support.wire import SYNTHETIC
from switchyard.providers.base import UpstreamError
from switchyard.providers.bedrock import BedrockProvider, BedrockStreamParser

FIXTURES = SYNTHETIC / "bedrock"
STREAMS = sorted(FIXTURES.glob("*.eventstream"))
NOW = 1_700_000_000


def parser() -> BedrockStreamParser:
    return BedrockStreamParser(created=NOW, model="m", response_id="chatcmpl-test")


def run(data: bytes, sizes: list[int] | None = None) -> list[dict]:
    p = parser()
    if sizes is None:
        return p.feed(data) + p.close()
    out, pos, i = [], 0, 0
    while pos < len(data):
        step = sizes[i % len(sizes)]
        out += p.feed(data[pos : pos + step])
        pos, i = pos + step, i + 1
    return out + p.close()


def deltas(chunks: list[dict]) -> list[dict]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def text_of(chunks: list[dict], key: str = "content") -> str:
    return "".join(d.get(key) or "" for d in deltas(chunks))


def finish(chunks: list[dict]) -> list[str]:
    return [
        c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]
    ]


def simple(*frames: bytes) -> bytes:
    return b"".join(frames)


# --- the fixtures themselves -------------------------------------------------------------------


@pytest.mark.parametrize("source", sources(), ids=lambda p: p.name)
def test_fixture_binary_decodes_to_its_json_source(source: Path):
    """botocore's decoder reads our encoder's frames back to exactly the documented events."""
    items = json.loads(source.read_text())["events"]
    data = binary_for(source).read_bytes()
    assert data == encode(items), "regenerate with python tests/fixtures/synthetic/bedrock/eventstream.py"
    buf = EventStreamBuffer()
    buf.add_data(data)
    decoded = list(buf)
    assert len(decoded) == len(items)
    for msg, item in zip(decoded, items, strict=True):
        if "event" in item:
            assert msg.headers[":message-type"] == "event"
            assert msg.headers[":event-type"] == item["event"]
        else:
            assert msg.headers[":message-type"] == "exception"
            assert msg.headers[":exception-type"] == item["exception"]
        assert msg.headers[":content-type"] == "application/json"
        assert json.loads(msg.payload) == item["payload"]


@pytest.mark.parametrize("path", [p for p in STREAMS if "throttled" not in p.name], ids=lambda p: p.name)
def test_fixture_whole_and_split_feeding_agree(path: Path):
    data = path.read_bytes()
    whole = run(data)
    assert whole
    assert run(data, [1]) == whole
    assert run(data, [2, 3, 5, 7]) == whole
    rng = random.Random(path.name)
    assert run(data, [rng.randint(1, 64) for _ in range(50)]) == whole
    for cut in range(len(data) + 1):  # every two-piece split, including inside a prelude or a CRC
        p = parser()
        assert p.feed(data[:cut]) + p.feed(data[cut:]) + p.close() == whole


# --- translation -------------------------------------------------------------------------------


def test_text_stream():
    chunks = run((FIXTURES / "converse_stream_text.eventstream").read_bytes())
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert text_of(chunks) == "Hello! How can I help?"
    assert finish(chunks) == ["stop"]
    last = chunks[-1]
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": 25,
        "completion_tokens": 9,
        "total_tokens": 34,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    }
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert c["id"] == "chatcmpl-test"
        assert c["created"] == NOW
        assert c["model"] == "m"
    assert all("p" not in d for d in deltas(chunks))  # the padding field is ignored


def test_tool_use_stream_running_indices_and_arguments():
    chunks = run((FIXTURES / "converse_stream_tool_use.eventstream").read_bytes())
    assert text_of(chunks) == "Let me check."
    calls = [tc for d in deltas(chunks) for tc in d.get("tool_calls") or []]
    heads = [tc for tc in calls if "id" in tc]
    assert heads == [
        {
            "index": 0,
            "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        },
        {
            "index": 1,
            "id": "tooluse_9bq3QnJbTgS2o0bqk0RkWw",
            "type": "function",
            "function": {"name": "get_time", "arguments": ""},
        },
    ]
    args = {0: "", 1: ""}
    for tc in calls:
        args[tc["index"]] += tc["function"]["arguments"]
    assert json.loads(args[0]) == {"city": "Paris"}
    assert json.loads(args[1]) == {"tz": "CET"}
    assert finish(chunks) == ["tool_calls"]
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 132,
        "completion_tokens": 61,
        "total_tokens": 193,
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20},
    }


def test_reasoning_stream():
    chunks = run((FIXTURES / "converse_stream_reasoning.eventstream").read_bytes())
    assert text_of(chunks, "reasoning_content") == "2 plus 2 is 4."
    assert text_of(chunks) == "The answer is 4."
    blocks = [b for d in deltas(chunks) for b in d.get("thinking_blocks") or []]
    assert blocks == [
        {"type": "thinking", "thinking": "2 plus 2 is 4.", "signature": "EqoBCkgIARABGAIiQGx0c2lnbmF0dXJl"}
    ]
    # the reasoning comes before the answer
    order = [k for d in deltas(chunks) for k in ("reasoning_content", "content") if d.get(k)]
    assert order.index("content") > max(i for i, k in enumerate(order) if k == "reasoning_content")
    assert finish(chunks) == ["stop"]


def test_redacted_reasoning_block():
    data = simple(
        event("messageStart", {"role": "assistant"}),
        event(
            "contentBlockDelta",
            {"contentBlockIndex": 0, "delta": {"reasoningContent": {"redactedContent": "AAEC"}}},
        ),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "end_turn"}),
    )
    chunks = run(data)
    blocks = [b for d in deltas(chunks) for b in d.get("thinking_blocks") or []]
    assert blocks == [{"type": "redacted_thinking", "data": "AAEC"}]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("something_new", "stop"),
    ],
)
def test_stop_reasons(reason: str, expected: str):
    data = simple(
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}),
        event("messageStop", {"stopReason": reason}),
    )
    assert finish(run(data)) == [expected]


def test_json_tool_streams_as_content_and_finishes_with_stop():
    data = simple(
        event("messageStart", {"role": "assistant"}),
        event(
            "contentBlockStart",
            {
                "contentBlockIndex": 0,
                "start": {"toolUse": {"toolUseId": "t1", "name": "switchyard_json_response"}},
            },
        ),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"a":'}}}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": " 1}"}}}),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "tool_use"}),
    )
    chunks = run(data)
    assert text_of(chunks) == '{"a": 1}'
    assert not any(d.get("tool_calls") for d in deltas(chunks))
    assert finish(chunks) == ["stop"]


def test_tool_input_without_block_start_still_becomes_a_call():
    data = simple(
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}),
        event("messageStop", {"stopReason": "tool_use"}),
    )
    calls = [tc for d in deltas(run(data)) for tc in d.get("tool_calls") or []]
    assert calls[0]["index"] == 0 and calls[0]["id"]
    assert calls[1] == {"index": 0, "function": {"arguments": "{}"}}


def test_usage_before_message_stop_is_held_until_the_end():
    data = simple(
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}),
        event("metadata", {"usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}}),
        event("messageStop", {"stopReason": "end_turn"}),
    )
    chunks = run(data)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 3
    assert sum(1 for c in chunks if "usage" in c) == 1


def test_no_metadata_means_no_usage_chunk():
    data = simple(
        event("messageStart", {"role": "assistant"}), event("messageStop", {"stopReason": "end_turn"})
    )
    chunks = run(data)
    assert all(c["choices"] for c in chunks)
    assert finish(chunks) == ["stop"]


def test_unknown_events_are_ignored():
    data = simple(
        event("messageStart", {"role": "assistant"}),
        event("somethingNew", {"x": 1}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"citation": {"title": "t"}}}),
        event("messageStop", {"stopReason": "end_turn"}),
    )
    assert finish(run(data)) == ["stop"]


def test_provider_stream_parser_uses_clock():
    p = BedrockProvider(clock=lambda: 42).stream_parser()
    chunks = p.feed((FIXTURES / "converse_stream_text.eventstream").read_bytes()) + p.close()
    assert {c["created"] for c in chunks} == {42}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")


# --- errors ------------------------------------------------------------------------------------


def test_throttling_exception_mid_stream():
    data = (FIXTURES / "converse_stream_throttled.eventstream").read_bytes()
    p = parser()
    out: list[dict] = []
    with pytest.raises(UpstreamError) as info:
        for i in range(0, len(data), 7):
            out += p.feed(data[i : i + 7])
    assert text_of(out) == "Hel"  # what came before the exception was delivered
    err = info.value
    assert (err.status, err.kind, err.type) == (429, "rate_limited", "throttlingException")
    assert "Too many requests" in err.message


@pytest.mark.parametrize(
    ("name", "payload", "status", "kind"),
    [
        ("throttlingException", {"message": "slow down"}, 429, "rate_limited"),
        ("serviceUnavailableException", {"message": "unavailable"}, 503, "overloaded"),
        ("internalServerException", {"message": "boom"}, 500, "server"),
        ("modelStreamErrorException", {"message": "model broke", "originalStatusCode": 500}, 424, "server"),
        (
            "modelStreamErrorException",
            {"message": "model busy", "originalStatusCode": 429},
            424,
            "rate_limited",
        ),
        ("validationException", {"message": "bad input"}, 400, "bad_request"),
        ("validationException", {"message": "Input is too long for requested model."}, 400, "context_length"),
        ("brandNewException", {"message": "?"}, 500, "server"),
    ],
)
def test_exception_events(name: str, payload: dict, status: int, kind: str):
    p = parser()
    p.feed(event("messageStart", {"role": "assistant"}))
    with pytest.raises(UpstreamError) as info:
        p.feed(exception(name, payload))
    assert (info.value.status, info.value.kind) == (status, kind)
    assert info.value.message == payload["message"]


def test_error_message_type_frame():
    data = frame({":message-type": "error", ":error-code": "InternalFailure", ":error-message": "oops"}, b"")
    with pytest.raises(UpstreamError) as info:
        parser().feed(data)
    assert (info.value.status, info.value.kind, info.value.message) == (500, "server", "oops")


@pytest.mark.parametrize("partial", [False, True])
def test_close_without_message_stop_raises(partial: bool):
    items = json.loads((FIXTURES / "converse_stream_text.events.json").read_text())["events"]
    data = encode(items[:-2])  # everything before messageStop
    if partial:
        data += encode(items[-2:-1])[:10]  # and the start of the messageStop frame
    p = parser()
    assert text_of(p.feed(data)) == "Hello! How can I help?"
    with pytest.raises(UpstreamError) as info:
        p.close()
    assert (info.value.status, info.value.kind) == (502, "server")


def test_close_on_empty_stream_raises():
    with pytest.raises(UpstreamError):
        parser().close()


def test_corrupt_crc_raises_server_error():
    data = bytearray(event("messageStart", {"role": "assistant"}))
    data[-1] ^= 0xFF
    with pytest.raises(UpstreamError) as info:
        parser().feed(bytes(data))
    assert (info.value.status, info.value.kind) == (502, "server")


def test_invalid_json_payload_raises():
    data = frame({":message-type": "event", ":event-type": "contentBlockDelta"}, b"{not json")
    with pytest.raises(UpstreamError) as info:
        parser().feed(data)
    assert info.value.kind == "server"
