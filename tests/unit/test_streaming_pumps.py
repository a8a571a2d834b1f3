"""pipeline/stream_pumps.py pumps over recorded OpenAI streams, and observe/assemble.py StreamAssembler."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from support.wire import stream
from switchyard.formats.sse import SSEDecoder
from switchyard.observe.assemble import StreamAssembler
from switchyard.pipeline.stream_pumps import DONE, PassthroughPump, TranslatingPump
from switchyard.providers.base import UpstreamError

USAGE = "openai/chat_completion_stream_usage.sse"
TOOL = "openai/chat_completion_stream_tool_call.sse"
PARALLEL = "openai/chat_completion_stream_parallel_tool_calls.sse"
FIXTURES = [USAGE, TOOL, PARALLEL]

TEXT = (
    "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, "
    "I recommend checking a reliable weather website or a weather app."
)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def pump_all(pump: PassthroughPump | TranslatingPump, data: bytes, size: int | None = None) -> bytes:
    out = b"".join(pump.feed(c) for c in chunked(data, size or len(data) or 1))
    return out + pump.close()


def blocks(data: bytes) -> list[bytes]:
    """The events of an LF-framed stream, each with its blank line."""
    return [b + b"\n\n" for b in data.split(b"\n\n") if b]


def is_usage_only(block: bytes) -> bool:
    payload = block.removeprefix(b"data: ").strip()
    if payload == b"[DONE]":
        return False
    chunk = orjson.loads(payload)
    return not chunk.get("choices") and chunk.get("usage") is not None


def client_events(data: bytes) -> list[Any]:
    """What an SSE client reads from the pump's output: parsed JSON chunks, or the '[DONE]' marker."""
    d = SSEDecoder()
    evs = d.feed(data) + d.close()
    return [e.data if e.data == "[DONE]" else orjson.loads(e.data) for e in evs]


# -- PassthroughPump -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("size", [None, 1, 7, 64, 1000])
def test_with_usage_output_is_the_input(name: str, size: int | None) -> None:
    data = stream(name)
    assert data.endswith(b"data: [DONE]\n\n")
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    assert pump_all(pump, data, size) == data


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("size", [None, 1, 13])
def test_without_usage_the_usage_only_chunk_is_stripped(name: str, size: int | None) -> None:
    data = stream(name)
    kept = [b for b in blocks(data) if not is_usage_only(b)]
    assert len(kept) == len(blocks(data)) - 1
    pump = PassthroughPump(include_usage=False, object_name="chat.completion")
    assert pump_all(pump, data, size) == b"".join(kept)
    # The gateway still sees the usage for the log.
    assert pump.assembler.usage is not None and pump.assembler.usage["total_tokens"] > 0


@pytest.mark.parametrize("eol", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_other_line_endings_are_reframed_with_lf(eol: bytes) -> None:
    data = stream(USAGE)
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    assert pump_all(pump, data.replace(b"\n", eol), 5) == data


def test_comments_and_blank_lines_do_not_disturb_the_events() -> None:
    data = stream(TOOL)
    noisy = b": OPENROUTER PROCESSING\n\n" + data.replace(b"\n\n", b"\n\n: keep-alive\n\n", 3)
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    assert client_events(pump_all(pump, noisy, 11)) == client_events(data)


def test_assembled_text_and_usage() -> None:
    pump = PassthroughPump(include_usage=False, object_name="chat.completion")
    pump_all(pump, stream(USAGE), 17)
    r = pump.assembler.result()
    assert r["id"] == "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL"
    assert (
        r["object"] == "chat.completion" and r["model"] == "gpt-4o-2024-08-06" and r["created"] == 1727346168
    )
    assert r["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}
    ]
    assert r["usage"] == {
        "prompt_tokens": 14,
        "completion_tokens": 30,
        "total_tokens": 44,
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert pump.assembler.text == TEXT


def test_assembled_tool_call() -> None:
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    pump_all(pump, stream(TOOL), 3)
    (choice,) = pump.assembler.result()["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_4XzlGBLtUe9dy3GVNV4jhq7h",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"New York City"}'},
        }
    ]
    assert pump.assembler.result()["usage"]["total_tokens"] == 60


def test_assembled_parallel_tool_calls() -> None:
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    pump_all(pump, stream(PARALLEL))
    calls = pump.assembler.result()["choices"][0]["message"]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [
        ("call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs"),
        ("call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price"),
    ]
    assert [orjson.loads(c["function"]["arguments"]) for c in calls] == [
        {"city": "Edinburgh", "country": "GB", "units": "c"},
        {"ticker": "AAPL", "exchange": "NASDAQ"},
    ]


@pytest.mark.parametrize("name", FIXTURES)
def test_missing_done_after_finish_reason_is_completed(name: str) -> None:
    data = stream(name)
    without_done = data.removesuffix(b"data: [DONE]\n\n")
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    out = pump_all(pump, without_done, 9)
    assert out == without_done + DONE
    assert out.count(b"[DONE]") == 1


def test_missing_done_and_no_usage_chunk_is_completed() -> None:
    kept = [b for b in blocks(stream(USAGE)) if not is_usage_only(b) and b != DONE]
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    assert pump_all(pump, b"".join(kept)).endswith(DONE)


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("events", [0, 1, 3])
def test_stream_ending_before_finish_raises(name: str, events: int) -> None:
    truncated = b"".join(blocks(stream(name))[:events])
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    pump.feed(truncated)
    with pytest.raises(UpstreamError) as info:
        pump.close()
    assert info.value.status == 502


def test_stream_cut_inside_an_event_raises() -> None:
    data = stream(USAGE)
    cut = data[: len(data) // 2]
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    pump.feed(cut)
    with pytest.raises(UpstreamError):
        pump.close()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            b'{"error": {"message": "Rate limit reached for gpt-4o", "type": "requests"}}',
            "Rate limit reached",
        ),
        (b'{"error": "upstream overloaded"}', "upstream overloaded"),
    ],
)
def test_in_stream_error_raises(payload: bytes, message: str) -> None:
    first_two = b"".join(blocks(stream(USAGE))[:2])
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    assert pump.feed(first_two) == first_two
    with pytest.raises(UpstreamError) as info:
        pump.feed(b"data: " + payload + b"\n\n")
    assert message in info.value.message


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'"text"'])
def test_non_object_event_raises(payload: bytes) -> None:
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    with pytest.raises(UpstreamError):
        pump.feed(b"data: " + payload + b"\n\n")


def test_legacy_completions_stream() -> None:
    chunks = [
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "gpt-3.5-turbo-instruct",
            "choices": [{"index": 0, "text": "Hello", "finish_reason": None}],
        },
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "gpt-3.5-turbo-instruct",
            "choices": [{"index": 0, "text": " world", "finish_reason": "length"}],
        },
    ]
    data = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + DONE
    pump = PassthroughPump(include_usage=False, object_name="text_completion")
    assert pump_all(pump, data, 4) == data
    r = pump.assembler.result()
    assert r["object"] == "text_completion"
    assert r["choices"] == [{"index": 0, "text": "Hello world", "finish_reason": "length"}]


def test_multi_line_data_event_reaches_the_client_intact() -> None:
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
    }
    pretty = orjson.dumps(chunk, option=orjson.OPT_INDENT_2)
    upstream = b"".join(b"data: " + line + b"\n" for line in pretty.split(b"\n")) + b"\n" + DONE
    pump = PassthroughPump(include_usage=True, object_name="chat.completion")
    out = pump_all(pump, upstream)
    assert pump.assembler.text == "hi"
    assert client_events(out) == [chunk, "[DONE]"]


# -- TranslatingPump -------------------------------------------------------------------------------------


class ListParser:
    """A stream parser that turns each fed byte string into the next prepared batch of chunks."""

    def __init__(self, batches: list[list[dict[str, Any]]], tail: list[dict[str, Any]]) -> None:
        self.batches, self.tail = list(batches), tail

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        return self.batches.pop(0)

    def close(self) -> list[dict[str, Any]]:
        return self.tail


class JsonSurface:
    object_name = "chat.completion"

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def done(self) -> bytes:
        return DONE


def _chunk(**kw: Any) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", **kw}


@pytest.mark.parametrize("include_usage", [True, False])
def test_translating_pump(include_usage: bool) -> None:
    text = _chunk(choices=[{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}])
    stop = _chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
    usage = _chunk(choices=[], usage={"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4})
    pump = TranslatingPump(ListParser([[text], [stop]], [usage]), JsonSurface(), include_usage)
    out = pump.feed(b"a") + pump.feed(b"b") + pump.close()
    expected = [text, stop] + ([usage] if include_usage else []) + ["[DONE]"]
    assert client_events(out) == expected
    assert pump.assembler.text == "hi" and pump.assembler.usage == usage["usage"]


# -- StreamAssembler -------------------------------------------------------------------------------------


def test_assembler_first_chunk_sets_identity() -> None:
    a = StreamAssembler()
    a.feed({"id": "one", "model": "m1", "created": 5, "choices": []})
    a.feed({"id": "two", "model": "m2", "created": 6, "choices": []})
    r = a.result()
    assert (r["id"], r["model"], r["created"], r["object"]) == ("one", "m1", 5, "chat.completion")
    assert r["choices"] == [] and "usage" not in r


def test_assembler_reasoning_and_content() -> None:
    a = StreamAssembler()
    for delta in (
        {"role": "assistant", "reasoning_content": "Think"},
        {"reasoning_content": "ing."},
        {"content": "An"},
        {"content": "swer"},
        {"content": ""},
        {"content": None},
    ):
        a.feed({"id": "r", "choices": [{"index": 0, "delta": delta}]})
    a.feed({"id": "r", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    (c,) = a.result()["choices"]
    assert c["message"] == {"role": "assistant", "content": "Answer", "reasoning_content": "Thinking."}
    assert c["finish_reason"] == "stop"


def test_assembler_several_choices_in_index_order() -> None:
    a = StreamAssembler()
    a.feed({"choices": [{"index": 1, "delta": {"content": "B1"}}, {"index": 0, "delta": {"content": "A1"}}]})
    a.feed({"choices": [{"index": 0, "delta": {"content": "A2"}, "finish_reason": "stop"}]})
    a.feed({"choices": [{"index": 1, "delta": {"content": "B2"}, "finish_reason": "length"}]})
    r = a.result()
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in r["choices"]] == [
        (0, "A1A2", "stop"),
        (1, "B1B2", "length"),
    ]


def test_assembler_tool_call_without_arguments_and_name_in_pieces() -> None:
    a = StreamAssembler()
    a.feed(
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "get_", "arguments": ""},
                            }
                        ]
                    },
                }
            ]
        }
    )
    a.feed({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "time"}}]}}]})
    a.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    (c,) = a.result()["choices"]
    assert c["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": ""}},
    ]
    assert c["message"]["content"] is None


def test_assembler_keeps_the_last_usage() -> None:
    a = StreamAssembler()
    a.feed({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}})
    a.feed({"choices": [], "usage": None})
    a.feed({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 9, "total_tokens": 10}})
    assert a.result()["usage"]["total_tokens"] == 10
