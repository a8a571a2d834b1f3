"""Responses API caller surface, streaming: OpenAI chat chunks → Responses SSE (formats/openai_responses_stream.py).

Recorded OpenAI chat streams are encoded and the output checked three ways: every event against the spec's
`ResponseStreamEvent` and the SDK's event union; the whole stream through the official openai SDK
(`client.responses.stream`, whose accumulator rebuilds the response from the deltas); and the event sequence
against the recorded real Responses streams.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import httpx
import jsonschema
import openai
import orjson
import pytest
import yaml
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from support.wire import SHARED, stream
from switchyard.errors import GatewayError
from switchyard.formats.openai_responses import ResponsesSurface
from switchyard.formats.openai_responses_items import THINKING_PREFIX
from switchyard.formats.sse import SSEDecoder
from switchyard.observe.assemble import StreamAssembler
from switchyard.pipeline.stream_pumps import TranslatingPump
from switchyard.providers.openai import OpenAIStreamParser

USAGE = "openai/chat_completion_stream_usage.sse"
TOOL = "openai/chat_completion_stream_tool_call.sse"
PARALLEL = "openai/chat_completion_stream_parallel_tool_calls.sse"
RECORDED_TEXT = "openai/responses_stream_text.sse"
RECORDED_CALL = "openai/responses_stream_function_call.sse"
EVENTS = TypeAdapter(ResponseStreamEvent)


@functools.cache
def _spec_event() -> jsonschema.Draft202012Validator:
    """The spec's ResponseStreamEvent; its discriminated anyOf becomes if/then on `type` (precise errors). Built at
    first use (seconds), not when every pytest-xdist worker collects this module."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    components = yaml.load((SHARED / "specs" / "openai-openapi.yaml").read_text(), Loader=loader)[
        "components"
    ]
    schemas = components["schemas"]
    branches = {}
    for b in schemas["ResponseStreamEvent"]["anyOf"]:
        name = b["$ref"].rsplit("/", 1)[-1]
        branches[schemas[name]["properties"]["type"]["enum"][0]] = b["$ref"]
    root = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": list(branches)}},
        "allOf": [
            {"if": {"properties": {"type": {"const": k}}}, "then": {"$ref": ref}}
            for k, ref in branches.items()
        ],
        "components": components,
    }
    return jsonschema.Draft202012Validator(root)


# -- helpers ----------------------------------------------------------------------------------------


def chunks_of(name: str) -> list[dict[str, Any]]:
    d = SSEDecoder()
    return [orjson.loads(e.data) for e in d.feed(stream(name)) + d.close() if e.data != "[DONE]"]


def surface_for(body: dict[str, Any] | None = None) -> ResponsesSurface:
    s = ResponsesSurface()
    s.request(body or {"model": "gpt-4o", "input": "hi", "stream": True})
    return s


def encode(chunks: list[dict[str, Any]], surface: ResponsesSurface | None = None) -> bytes:
    surface = surface or surface_for()
    return b"".join(surface.chunk(c) for c in chunks) + surface.done()


def events(sse: bytes) -> list[dict[str, Any]]:
    """Decode the SSE and check the framing: `event:` names the data's type, sequence numbers run 0, 1, …"""
    d = SSEDecoder()
    raw = d.feed(sse) + d.close()
    out = [orjson.loads(e.data) for e in raw]
    assert [e.event for e in raw] == [o["type"] for o in out]
    assert [o["sequence_number"] for o in out] == list(range(len(out)))
    assert sse.endswith(b"\n\n") and b"[DONE]" not in sse  # Responses streams end with the final event
    return out


def valid(evs: list[dict[str, Any]]) -> list[Any]:
    for e in evs:
        errors = [f"{list(x.absolute_path)}: {x.message[:200]}" for x in _spec_event().iter_errors(e)]
        assert errors == [], (e["type"], errors)
    return [EVENTS.validate_python(e) for e in evs]


def accumulate(evs: list[dict[str, Any]]) -> tuple[Any, Any]:
    """Run the SDK's own accumulator; return (its snapshot, the parsed final response)."""
    state = ResponseStreamState(input_tools=openai.omit, text_format=openai.omit)
    final = None
    for ev in valid(evs):
        for out in state.handle_event(ev):
            if out.type in ("response.completed", "response.incomplete"):
                final = out.response
    return state._ResponseStreamState__current_snapshot, final  # type: ignore[attr-defined]


def sdk_stream(sse: bytes, **body: Any) -> tuple[list[Any], Any]:
    transport = httpx.MockTransport(
        lambda _r: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse)
    )
    client = openai.OpenAI(
        api_key="test",
        base_url="http://gateway.test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=transport),
    )
    with client.responses.stream(**{"model": "gpt-4o", "input": "hi", **body}) as s:
        seen = list(s)
        return seen, s.get_final_response()


def without_ids(value: Any) -> Any:
    """Events with the generated ids and the completion time taken out, for comparing two encodings."""
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k not in ("id", "item_id", "completed_at")}
    return value


def collapse(types: list[str]) -> list[str]:
    return [k for k, _ in itertools.groupby(types)]


def assembled(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    asm = StreamAssembler()
    for c in chunks:
        asm.feed(c)
    return asm.result()


# -- recorded chat streams --------------------------------------------------------------------------


@pytest.mark.parametrize("name", [USAGE, TOOL, PARALLEL])
def test_recorded_chat_streams_become_valid_responses_streams(name: str) -> None:
    chunks = chunks_of(name)
    evs = events(encode(chunks))
    snapshot, final = accumulate(evs)
    want = assembled(chunks)
    msg, usage = want["choices"][0]["message"], want["usage"]
    assert final is not None and final.status == "completed"
    assert final.id.startswith("resp_") and final.id != "resp_" + chunks[0]["id"]  # the gateway's own id
    assert final.model == chunks[0]["model"]
    assert final.output_text == (msg["content"] or "")
    calls = [(i.call_id, i.name, i.arguments) for i in final.output if i.type == "function_call"]
    assert calls == [
        (t["id"], t["function"]["name"], t["function"]["arguments"]) for t in msg.get("tool_calls", ())
    ]
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.total_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
        usage["total_tokens"],
    )
    # the deltas alone (the SDK's snapshot) rebuild the output the final event carries
    rebuilt = [
        (i.type, getattr(i, "arguments", None), [c.text for c in getattr(i, "content", ())])
        for i in snapshot.output
    ]
    assert rebuilt == [
        (i.type, getattr(i, "arguments", None), [c.text for c in getattr(i, "content", ())])
        for i in final.output
    ]
    done = [e["item"] for e in evs if e["type"] == "response.output_item.done"]
    assert done == evs[-1]["response"]["output"]


@pytest.mark.parametrize("name", [USAGE, PARALLEL])
def test_the_openai_sdk_consumes_the_stream(name: str) -> None:
    chunks = chunks_of(name)
    seen, final = sdk_stream(encode(chunks))
    msg = assembled(chunks)["choices"][0]["message"]
    assert seen[0].type == "response.created" and seen[-1].type == "response.completed"
    text = "".join(e.delta for e in seen if e.type == "response.output_text.delta")
    assert text == final.output_text == (msg["content"] or "")
    args_done = [e.arguments for e in seen if e.type == "response.function_call_arguments.done"]
    assert args_done == [t["function"]["arguments"] for t in msg.get("tool_calls", ())]
    assert final.usage is not None and final.usage.total_tokens > 0


def test_text_stream_mirrors_the_recorded_responses_stream() -> None:
    ours = events(encode(chunks_of(USAGE)))
    real = [orjson.loads(e.data) for e in SSEDecoder().feed(stream(RECORDED_TEXT))]
    assert collapse([e["type"] for e in ours]) == collapse([e["type"] for e in real])
    _same_shapes(ours, real)


def test_tool_call_stream_mirrors_the_recorded_responses_stream() -> None:
    ours = events(encode(chunks_of(TOOL)))
    real = [orjson.loads(e.data) for e in SSEDecoder().feed(stream(RECORDED_CALL))]
    assert collapse([e["type"] for e in ours]) == collapse([e["type"] for e in real])
    _same_shapes(ours, real)


def _same_shapes(ours: list[dict[str, Any]], real: list[dict[str, Any]]) -> None:
    """Every field the real stream has, ours has too (by event type; also inside items, parts, response)."""
    # OpenAI's older recording sends `usage: null` / `user: null`, which the current spec does not allow
    spec_forbids_null = {"usage", "user"}
    for r in real:
        mine = next(e for e in ours if e["type"] == r["type"])
        assert set(r) - set(mine) == set(), r["type"]
        for key in ("item", "part"):
            if key in r:
                assert set(r[key]) - set(mine[key]) == set(), (r["type"], key)
        if "response" in r:
            missing = {k for k in set(r["response"]) - set(mine["response"]) if r["response"][k] is not None}
            missing |= (set(r["response"]) - set(mine["response"])) - spec_forbids_null
            assert missing == set(), (r["type"], missing)


def test_parallel_tool_calls_are_sequential_items() -> None:
    evs = events(encode(chunks_of(PARALLEL)))
    body = [
        (e["type"], e.get("output_index"))
        for e in evs
        if e["type"] != "response.function_call_arguments.delta"
    ]
    assert body == [
        ("response.created", None),
        ("response.in_progress", None),
        ("response.output_item.added", 0),
        ("response.function_call_arguments.done", 0),
        ("response.output_item.done", 0),
        ("response.output_item.added", 1),
        ("response.function_call_arguments.done", 1),
        ("response.output_item.done", 1),
        ("response.completed", None),
    ]
    added = [e["item"] for e in evs if e["type"] == "response.output_item.added"]
    assert all(
        i["arguments"] == "" and i["status"] == "in_progress" and i["id"].startswith("fc_") for i in added
    )


def test_through_the_translating_pump() -> None:
    """The way the executor runs it: OpenAI bytes → parser → surface, any byte split."""
    data = stream(PARALLEL)
    for size in (1, 37, len(data)):
        surface = surface_for()
        pump = TranslatingPump(OpenAIStreamParser(), surface, include_usage=True)
        out = b"".join(pump.feed(data[i : i + size]) for i in range(0, len(data), size)) + pump.close()
        assert without_ids(events(out)) == without_ids(events(encode(chunks_of(PARALLEL))))
        evs = events(out)
        assert evs[-1]["type"] == "response.completed" and evs[-1]["response"]["usage"]["total_tokens"] == 209


# -- synthetic chunk sequences ----------------------------------------------------------------------


def chunk(
    delta: dict[str, Any] | None = None,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    choices: bool = True,
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "id": "chatcmpl-syn",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if choices else [],
    }
    if usage is not None:
        c["usage"] = usage
    return c


USAGE_1 = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_final_event_waits_for_the_usage_chunk() -> None:
    s = surface_for()
    first = events(s.chunk(chunk({"role": "assistant", "content": "Hi"})) + s.chunk(chunk(finish="stop")))
    assert first[-1]["type"] == "response.output_item.done"
    tail = s.chunk(chunk(usage=USAGE_1, choices=False))
    assert b"response.completed" in tail and b'"total_tokens":7' in tail
    assert s.done() == b"" and s.chunk(chunk({"content": "late"})) == b""


def test_usage_in_the_finish_chunk_ends_at_once() -> None:
    s = surface_for()
    out = s.chunk(chunk({"content": "Hi"})) + s.chunk(chunk(finish="stop", usage=USAGE_1))
    assert events(out)[-1]["type"] == "response.completed"
    assert s.done() == b""


def test_no_usage_at_all_ends_at_done_without_usage() -> None:
    evs = events(encode([chunk({"content": "Hi"}), chunk(finish="stop")]))
    valid(evs)
    assert evs[-1]["type"] == "response.completed" and "usage" not in evs[-1]["response"]


def test_length_ends_incomplete() -> None:
    evs = events(
        encode([chunk({"content": "Hi"}), chunk(finish="length"), chunk(usage=USAGE_1, choices=False)])
    )
    _, final = accumulate(evs)
    last = evs[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["output"][0]["status"] == "incomplete"
    assert final.output_text == "Hi"


def test_reasoning_deltas_become_a_reasoning_summary_item() -> None:
    chunks = [
        chunk({"role": "assistant", "reasoning_content": "Let me "}),
        chunk({"reasoning_content": "think."}),
        chunk({"thinking_blocks": [{"type": "thinking", "thinking": "Let me think.", "signature": "c2ln"}]}),
        chunk({"thinking_blocks": [{"type": "redacted_thinking", "data": "b3BhcXVl"}]}),
        chunk({"content": "Answer."}),
        chunk(finish="stop"),
        chunk(usage=USAGE_1, choices=False),
    ]
    evs = events(encode(chunks))
    _, final = accumulate(evs)
    types = collapse([e["type"] for e in evs])
    assert types[:9] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
    ]
    out = evs[-1]["response"]["output"]
    assert [i["type"] for i in out] == ["reasoning", "reasoning", "message"]
    assert out[0]["summary"] == [{"type": "summary_text", "text": "Let me think."}]
    assert out[0]["encrypted_content"] == THINKING_PREFIX + "c2ln"
    assert out[1]["summary"] == [] and out[1]["encrypted_content"].endswith("b3BhcXVl")
    assert final.output_text == "Answer."
    # sent back, the items give the provider its signed thinking blocks again
    nxt = ResponsesSurface().request({"model": "m", "input": [{"role": "user", "content": "q"}, *out]})
    assert nxt["messages"][1]["thinking_blocks"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "c2ln"},
        {"type": "redacted_thinking", "data": "b3BhcXVl"},
    ]


def test_refusal_stream() -> None:
    evs = events(encode([chunk({"refusal": "I can't "}), chunk({"refusal": "help."}), chunk(finish="stop")]))
    valid(evs)
    types = [e["type"] for e in evs]
    assert "response.refusal.delta" in types and "response.refusal.done" in types
    assert evs[-1]["response"]["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't help."}]


def test_text_after_a_tool_call_opens_a_new_message() -> None:
    tc = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    evs = events(
        encode(
            [
                chunk({"content": "Sure."}),
                chunk({"tool_calls": [tc]}),
                chunk({"content": "Done."}),
                chunk(finish="tool_calls"),
            ]
        )
    )
    _, final = accumulate(evs)
    assert [i["type"] for i in evs[-1]["response"]["output"]] == ["message", "function_call", "message"]
    assert final.output_text == "Sure.Done."


def test_interleaved_tool_call_arguments_still_reach_the_final_response() -> None:
    a = {"index": 0, "id": "call_a", "type": "function", "function": {"name": "a", "arguments": '{"x":'}}
    b = {"index": 1, "id": "call_b", "type": "function", "function": {"name": "b", "arguments": "{}"}}
    evs = events(
        encode(
            [
                chunk({"tool_calls": [a]}),
                chunk({"tool_calls": [b]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
                chunk(finish="tool_calls"),
            ]
        )
    )
    valid(evs)
    assert [i["arguments"] for i in evs[-1]["response"]["output"]] == ['{"x":1}', "{}"]


def test_echoes_the_request_in_created_and_completed() -> None:
    body = {
        "model": "gpt-4o",
        "input": "hi",
        "stream": True,
        "instructions": "Be brief.",
        "tool_choice": "required",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
    }
    evs = events(encode(chunks_of(USAGE), surface_for(body)))
    for e in (evs[0], evs[-1]):
        assert e["response"]["instructions"] == "Be brief." and e["response"]["tool_choice"] == "required"
        assert e["response"]["tools"] == [
            {
                "type": "function",
                "name": "f",
                "description": None,
                "parameters": {"type": "object"},
                "strict": True,
            }
        ]
    assert evs[0]["response"]["status"] == "in_progress" and evs[0]["response"]["output"] == []


def test_error_event() -> None:
    s = surface_for()
    head = s.chunk(chunk({"content": "Hi"}))
    err = s.error_event(GatewayError(502, "upstream reported an error mid-stream: boom", code="server"))
    evs = events(head + err)
    valid(evs)
    assert evs[-1] == {
        "type": "error",
        "sequence_number": len(evs) - 1,
        "code": "server",
        "message": "upstream reported an error mid-stream: boom",
        "param": None,
    }
    assert err.startswith(b"event: error\ndata: ")
    assert s.done() == b""


def test_an_empty_stream_still_completes() -> None:
    evs = events(surface_for().done())
    valid(evs)
    assert [e["type"] for e in evs] == ["response.created", "response.in_progress", "response.completed"]
