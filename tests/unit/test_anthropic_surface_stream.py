"""Anthropic Messages caller surface, streaming: OpenAI chunks → Anthropic SSE (formats/anthropic_messages_stream.py).

The output is checked twice: by a strict protocol checker (event order, block indexes, one open block at a
time) and by the official `anthropic` SDK, which decodes the SSE and accumulates the final message exactly as a
real caller would.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import pytest

from support.wire import stream
from switchyard.errors import GatewayError
from switchyard.formats.anthropic_messages import MessagesSurface
from switchyard.formats.sse import SSEDecoder
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.openai import OpenAIStreamParser

RECORDED = ["messages_stream_text.sse", "messages_stream_tool_use.sse", "messages_stream_thinking.sse"]
OPENAI_RECORDED = [
    "chat_completion_stream_usage.sse",
    "chat_completion_stream_tool_call.sse",
    "chat_completion_stream_parallel_tool_calls.sse",
]
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


# --- helpers --------------------------------------------------------------------------------------


def encode(chunks: list[dict[str, Any]], surface: MessagesSurface | None = None) -> bytes:
    surface = surface or MessagesSurface()
    return b"".join(surface.chunk(c) for c in chunks) + surface.done()


def anthropic_chunks(name: str, piece: int | None = None) -> list[dict[str, Any]]:
    data = stream(f"anthropic/{name}")
    parser = AnthropicProvider().stream_parser()
    if piece is None:
        return parser.feed(data) + parser.close()
    out: list[dict[str, Any]] = []
    for i in range(0, len(data), piece):
        out += parser.feed(data[i : i + piece])
    return out + parser.close()


def openai_chunks(name: str) -> list[dict[str, Any]]:
    parser = OpenAIStreamParser()
    return parser.feed(stream(f"openai/{name}")) + parser.close()


def sdk_message(sse: bytes) -> anthropic.types.Message:
    """What the official SDK's MessageStream accumulates from these SSE bytes."""
    transport = httpx2.MockTransport(
        lambda _req: httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=sse)
    )
    client = anthropic.Anthropic(
        api_key="test",
        base_url="http://gateway.test",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    )
    with client.messages.stream(model="m", max_tokens=16, messages=[{"role": "user", "content": "hi"}]) as s:
        return s.get_final_message()


def events(sse: bytes) -> list[tuple[str, dict[str, Any]]]:
    dec = SSEDecoder()
    evs = dec.feed(sse) + dec.close()
    return [(e.event, json.loads(e.data)) for e in evs]


def check_protocol(sse: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Anthropic's streaming protocol, strictly: fails on anything a careful client could trip over."""
    assert sse.endswith(b"\n\n")
    evs = events(sse)
    names = [n for n, _ in evs]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names.count("message_start") == names.count("message_delta") == names.count("message_stop") == 1
    assert names.index("message_delta") == len(names) - 2
    open_index, next_index, kinds = None, 0, {}
    for name, data in evs:
        assert data["type"] == name
        if name == "message_start":
            msg = data["message"]
            assert msg["id"].startswith("msg_") and msg["type"] == "message" and msg["role"] == "assistant"
            assert msg["content"] == [] and msg["stop_reason"] is None
            assert isinstance(msg["usage"]["input_tokens"], int) and isinstance(
                msg["usage"]["output_tokens"], int
            )
        elif name == "content_block_start":
            assert open_index is None, "a block started before the previous one stopped"
            assert data["index"] == next_index
            open_index, next_index = data["index"], next_index + 1
            kinds[open_index] = data["content_block"]["type"]
        elif name == "content_block_delta":
            assert data["index"] == open_index
            allowed = {
                "text": {"text_delta"},
                "thinking": {"thinking_delta", "signature_delta"},
                "tool_use": {"input_json_delta"},
            }[kinds[open_index]]
            assert data["delta"]["type"] in allowed
        elif name == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
        elif name == "message_delta":
            assert open_index is None, "message_delta with a block still open"
            assert data["delta"]["stop_reason"] in ("end_turn", "max_tokens", "tool_use", "refusal")
            assert data["delta"]["stop_sequence"] is None
            assert isinstance(data["usage"]["output_tokens"], int)
    return evs


def block_view(message: anthropic.types.Message) -> list[dict[str, Any]]:
    out = []
    for b in message.content:
        if b.type == "text":
            out.append({"type": "text", "text": b.text})
        elif b.type == "thinking":
            out.append({"type": "thinking", "thinking": b.thinking, "signature": b.signature})
        elif b.type == "tool_use":
            out.append({"type": "tool_use", "id": b.id, "name": b.name, "input": b.input})
        else:
            out.append(b.model_dump())
    return out


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-x",
        "choices": choices,
        **extra,
    }


USAGE = {
    "prompt_tokens": 30,
    "completion_tokens": 7,
    "total_tokens": 37,
    "prompt_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 5},
}


# --- round trips through the recorded Anthropic streams ---------------------------------------------


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_stream_round_trips_through_the_sdk(name: str) -> None:
    original = sdk_message(stream(f"anthropic/{name}"))
    ours = encode(anthropic_chunks(name))
    check_protocol(ours)
    got = sdk_message(ours)
    assert got.id == original.id and got.model == original.model
    assert block_view(got) == block_view(original)
    assert got.stop_reason == original.stop_reason and got.stop_sequence is None
    for key in USAGE_KEYS:
        assert getattr(got.usage, key) == getattr(original.usage, key), key


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_stream_is_independent_of_byte_splits(name: str) -> None:
    assert encode(anthropic_chunks(name, piece=7)) == encode(anthropic_chunks(name))


def test_thinking_stream_keeps_text_and_signature() -> None:
    got = sdk_message(encode(anthropic_chunks("messages_stream_thinking.sse")))
    thinking = got.content[0]
    assert thinking.type == "thinking"
    assert thinking.thinking.startswith("This is a straightforward question")
    assert thinking.signature.startswith("EvMCCkYICxgCKkCHP2cSuEdcJK")
    evs = events(encode(anthropic_chunks("messages_stream_thinking.sse")))
    sig = [d for n, d in evs if n == "content_block_delta" and d["delta"]["type"] == "signature_delta"]
    assert len(sig) == 1 and sig[0]["index"] == 0


def test_tool_use_stream_streams_arguments_as_input_json_deltas() -> None:
    evs = check_protocol(encode(anthropic_chunks("messages_stream_tool_use.sse")))
    start = next(d for n, d in evs if n == "content_block_start" and d["content_block"]["type"] == "tool_use")
    assert start["content_block"] == {
        "type": "tool_use",
        "id": "toolu_01NRLabsLyVHZPKxbKvkfSMn",
        "name": "get_weather",
        "input": {},
    }
    partial = "".join(
        d["delta"]["partial_json"]
        for n, d in evs
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(partial) == {"location": "Paris"}


# --- OpenAI-format upstreams (usage in a later usage-only chunk) -------------------------------------


@pytest.mark.parametrize("name", OPENAI_RECORDED)
def test_recorded_openai_streams_become_valid_anthropic_streams(name: str) -> None:
    chunks = openai_chunks(name)
    ours = encode(chunks)
    check_protocol(ours)
    got = sdk_message(ours)
    text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c["choices"])
    args: dict[int, str] = {}
    for c in chunks:
        for ch in c["choices"]:
            for tc in ch["delta"].get("tool_calls") or ():
                args[tc["index"]] = args.get(tc["index"], "") + (tc["function"].get("arguments") or "")
    texts = [b.text for b in got.content if b.type == "text"]
    assert "".join(texts) == text
    tools = [b for b in got.content if b.type == "tool_use"]
    assert [b.input for b in tools] == [json.loads(args[i]) for i in sorted(args)]
    assert got.stop_reason == ("tool_use" if args else "end_turn")
    usage = next(c["usage"] for c in chunks if c.get("usage"))
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    assert got.usage.input_tokens == usage["prompt_tokens"] - cached
    assert got.usage.cache_read_input_tokens == cached
    assert got.usage.output_tokens == usage["completion_tokens"]
    assert got.id == "msg_" + chunks[0]["id"]


def test_message_delta_waits_for_the_usage_chunk() -> None:
    s = MessagesSurface()
    s.chunk(chunk({"role": "assistant", "content": "Hi"}))
    out = s.chunk(chunk({}, "stop"))
    assert b"content_block_stop" in out and b"message_delta" not in out
    out = s.chunk(chunk(None, usage=USAGE))
    ((name, data),) = events(out)
    assert name == "message_delta"
    assert data["usage"] == {
        "input_tokens": 15,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 10,
        "output_tokens": 7,
    }
    assert [n for n, _ in events(s.done())] == ["message_stop"]


def test_usage_on_the_finish_chunk_sends_message_delta_at_once() -> None:
    s = MessagesSurface()
    s.chunk(chunk({"content": "Hi"}))
    out = s.chunk(chunk({}, "length", usage=USAGE))
    assert [n for n, _ in events(out)] == ["content_block_stop", "message_delta"]
    assert events(out)[1][1]["delta"]["stop_reason"] == "max_tokens"


def test_no_usage_at_all_still_ends_the_stream_properly() -> None:
    sse = encode([chunk({"content": "Hi"}), chunk({}, "stop")])
    evs = check_protocol(sse)
    assert evs[-2][1]["usage"] == {"output_tokens": 0}
    assert sdk_message(sse).content[0].text == "Hi"


def test_done_is_final_and_idempotent() -> None:
    s = MessagesSurface()
    sse = s.chunk(chunk({"content": "x"}, "stop")) + s.done()
    assert s.done() == b"" and s.chunk(chunk({"content": "late"})) == b""
    assert b"[DONE]" not in sse
    check_protocol(sse)


def test_empty_stream_is_still_a_valid_message() -> None:
    sse = MessagesSurface().done()
    check_protocol(sse)
    got = sdk_message(sse)
    assert got.content == [] and got.stop_reason == "end_turn" and got.id.startswith("msg_")


def test_usage_in_the_first_chunk_goes_into_message_start() -> None:
    sse = encode([chunk({"content": "x"}, "stop", usage=USAGE)])
    start = events(sse)[0][1]["message"]["usage"]
    assert start["input_tokens"] == 15 and start["output_tokens"] == 0


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("something_new", "end_turn"),
    ],
)
def test_stop_reasons(finish: str, reason: str) -> None:
    evs = check_protocol(encode([chunk({"content": "x"}), chunk({}, finish)]))
    assert evs[-2][1]["delta"]["stop_reason"] == reason


# --- thinking -------------------------------------------------------------------------------------


def test_reasoning_content_without_signature() -> None:
    sse = encode(
        [
            chunk({"reasoning_content": "hmm "}),
            chunk({"reasoning_content": "ok"}),
            chunk({"content": "Answer"}),
            chunk({}, "stop"),
        ]
    )
    check_protocol(sse)
    got = sdk_message(sse)
    assert block_view(got) == [
        {"type": "thinking", "thinking": "hmm ok", "signature": ""},
        {"type": "text", "text": "Answer"},
    ]


def test_reasoning_field_of_openai_compatible_servers() -> None:
    got = sdk_message(encode([chunk({"reasoning": "think"}), chunk({"content": "A"}, "stop")]))
    assert got.content[0].type == "thinking" and got.content[0].thinking == "think"


def test_whole_thinking_block_without_streamed_text() -> None:
    tb = {"type": "thinking", "thinking": "all at once", "signature": "sig"}
    sse = encode([chunk({"thinking_blocks": [tb]}), chunk({"content": "A"}, "stop")])
    check_protocol(sse)
    assert block_view(sdk_message(sse))[0] == tb


def test_two_thinking_blocks_stay_separate() -> None:
    sse = encode(
        [
            chunk({"reasoning_content": "one"}),
            chunk({"thinking_blocks": [{"type": "thinking", "thinking": "one", "signature": "s1"}]}),
            chunk({"reasoning_content": "two"}),
            chunk({"thinking_blocks": [{"type": "thinking", "thinking": "two", "signature": "s2"}]}),
            chunk({}, "stop"),
        ]
    )
    check_protocol(sse)
    assert block_view(sdk_message(sse)) == [
        {"type": "thinking", "thinking": "one", "signature": "s1"},
        {"type": "thinking", "thinking": "two", "signature": "s2"},
    ]


def test_redacted_thinking() -> None:
    sse = encode(
        [
            chunk({"thinking_blocks": [{"type": "redacted_thinking", "data": "opaque"}]}),
            chunk({"content": "A"}, "stop"),
        ]
    )
    evs = check_protocol(sse)
    assert evs[1][1]["content_block"] == {"type": "redacted_thinking", "data": "opaque"}
    got = sdk_message(sse)
    assert got.content[0].type == "redacted_thinking" and got.content[0].data == "opaque"


# --- tool calls -----------------------------------------------------------------------------------


def _call(
    index: int | None, id: str | None = None, name: str | None = None, args: str = ""
) -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name:
        fn["name"] = name
    call: dict[str, Any] = {"function": fn}
    if index is not None:
        call["index"] = index
    if id:
        call.update(id=id, type="function")
    return call


def test_parallel_tool_calls_get_one_block_each_in_order() -> None:
    sse = encode(
        [
            chunk({"content": "Let me look."}),
            chunk({"tool_calls": [_call(0, "call_a", "f", '{"x"')]}),
            chunk({"tool_calls": [_call(0, args=": 1}")]}),
            chunk({"tool_calls": [_call(1, "call_b", "g", "{}")]}),
            chunk({}, "tool_calls"),
            chunk(None, usage=USAGE),
        ]
    )
    check_protocol(sse)
    got = block_view(sdk_message(sse))
    assert got == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "call_a", "name": "f", "input": {"x": 1}},
        {"type": "tool_use", "id": "call_b", "name": "g", "input": {}},
    ]


def test_reused_index_with_a_new_id_is_a_new_call() -> None:
    sse = encode(
        [
            chunk({"tool_calls": [_call(0, "a", "f", "{}")]}),
            chunk({"tool_calls": [_call(0, "b", "g", '{"y": 2}')]}),
            chunk({}, "tool_calls"),
        ]
    )
    check_protocol(sse)
    assert [(b["id"], b["input"]) for b in block_view(sdk_message(sse))] == [("a", {}), ("b", {"y": 2})]


def test_tool_calls_without_index_or_id() -> None:
    sse = encode(
        [
            chunk({"tool_calls": [_call(None, None, "f", '{"a"')]}),
            chunk({"tool_calls": [_call(None, args=": 1}")]}),
            chunk({}, "tool_calls"),
        ]
    )
    check_protocol(sse)
    (block,) = sdk_message(sse).content
    assert block.id.startswith("toolu_") and block.name == "f" and block.input == {"a": 1}


def test_forced_tool_answered_with_finish_stop_is_tool_use() -> None:
    sse = encode([chunk({"tool_calls": [_call(0, "a", "f", "{}")]}), chunk({}, "stop")])
    assert events(sse)[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_other_choices_are_ignored() -> None:
    c = chunk({"content": "zero"})
    c["choices"].append({"index": 1, "delta": {"content": "one"}, "finish_reason": None})
    got = sdk_message(encode([c, chunk({}, "stop")]))
    assert [b.text for b in got.content] == ["zero"]


# --- errors ---------------------------------------------------------------------------------------


def test_error_event_shape() -> None:
    s = MessagesSurface()
    out = s.error_event(GatewayError(529, "Overloaded upstream"))
    assert out.startswith(b"event: error\ndata: ") and out.endswith(b"\n\n")
    ((name, data),) = events(out)
    assert name == "error"
    assert data == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded upstream"}}
    assert s.done() == b""


def test_error_event_mid_stream_raises_in_the_sdk() -> None:
    s = MessagesSurface()
    sse = s.chunk(chunk({"content": "partial"})) + s.error_event(GatewayError(502, "upstream went away"))
    with pytest.raises(anthropic.APIStatusError, match="upstream went away"):
        sdk_message(sse)
