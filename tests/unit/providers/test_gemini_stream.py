"""Gemini streamGenerateContent?alt=sse → OpenAI chat.completion.chunk dicts."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from support.wire import WIRE
from switchyard.providers.base import UpstreamError
from switchyard.providers.gemini import GeminiProvider

FIXTURES = WIRE / "gemini"
STREAMS = sorted(FIXTURES.glob("*.sse")) if FIXTURES else []
NOW = 1_700_000_000


def run(data: bytes, sizes: list[int] | None = None) -> list[dict]:
    """Feed `data` whole (sizes None) or in pieces of the given sizes (cycled), then close."""
    parser = GeminiProvider(clock=lambda: NOW).stream_parser()
    if sizes is None:
        return parser.feed(data) + parser.close()
    out, pos, i = [], 0, 0
    while pos < len(data):
        step = sizes[i % len(sizes)]
        out += parser.feed(data[pos : pos + step])
        pos, i = pos + step, i + 1
    return out + parser.close()


def sse(*events: dict, sep: bytes = b"\r\n\r\n") -> bytes:
    return b"".join(b"data: " + orjson.dumps(e) + sep for e in events)


def text_event(text: str, finish: str | None = None, **extra) -> dict:
    cand: dict = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return {"candidates": [cand], "modelVersion": "gemini-2.5-flash", "responseId": "r1", **extra}


# --- golden: recorded streams ------------------------------------------------------------------


@pytest.mark.skipif(not STREAMS, reason="wire fixtures not available")
@pytest.mark.parametrize("path", STREAMS, ids=lambda p: p.name)
def test_fixture_whole_and_split_feeding_agree(path: Path):
    data = path.read_bytes()
    whole = run(data)
    assert whole, "no chunks"
    assert run(data, [1]) == whole
    assert run(data, [2, 3, 5, 7]) == whole
    rng = random.Random(path.name)
    assert run(data, [rng.randint(1, 64) for _ in range(50)]) == whole
    for cut in range(len(data) + 1):  # every two-piece split, including inside \r\n
        parser = GeminiProvider(clock=lambda: NOW).stream_parser()
        assert parser.feed(data[:cut]) + parser.feed(data[cut:]) + parser.close() == whole


@pytest.mark.skipif(not STREAMS, reason="wire fixtures not available")
def test_fixture_text_stream_golden():
    chunks = run((FIXTURES / "stream_generate_content.sse").read_bytes())
    base = {
        "id": "ru1garvBEoOiqtsP2fznmQw",
        "object": "chat.completion.chunk",
        "created": NOW,
        "model": "gemini-2.5-flash",
    }
    assert chunks == [
        base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n1"}, "finish_reason": None, "logprobs": None}]},
        base | {"choices": [{"index": 0, "delta": {"content": "4\n15\n16\n17\n18\n19\n20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n3"}, "finish_reason": None, "logprobs": None}]},
        base | {"choices": [{"index": 0, "delta": {"content": "0"}, "finish_reason": "stop", "logprobs": None}]},
        base
        | {
            "choices": [],
            "usage": {
                "prompt_tokens": 18,
                "completion_tokens": 115,
                "total_tokens": 133,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 35},
            },
        },
    ]  # fmt: skip
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "\n".join(str(i) for i in range(1, 31))


@pytest.mark.skipif(not STREAMS, reason="wire fixtures not available")
def test_fixture_function_call_stream_golden():
    chunks = run((FIXTURES / "stream_generate_content_function_call.sse").read_bytes())
    assert len(chunks) == 2
    first, last = chunks
    assert first["id"] == "1lpeaMTxIpW1nvgP-O3vwQY" and first["model"] == "gemini-2.0-flash"
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": "get_capital", "arguments": '{"country":"France"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
            "logprobs": None,
        }
    ]
    assert (
        last["choices"] == []
        and last["usage"]["prompt_tokens"] == 52
        and last["usage"]["completion_tokens"] == 5
    )


# --- behaviour ---------------------------------------------------------------------------------


def test_lf_separators_work_too():
    data = sse(text_event("Hi"), text_event(" there", "STOP"), sep=b"\n\n")
    assert [c["choices"][0]["delta"].get("content") for c in run(data) if c["choices"]] == ["Hi", " there"]


def test_thoughts_stream_as_reasoning_content():
    thought = {"candidates": [{"content": {"parts": [{"text": "Hmm.", "thought": True}]}}], "responseId": "r"}
    chunks = run(sse(thought, text_event("Answer", "STOP")))
    assert chunks[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "reasoning_content": "Hmm.",
        "content": "",
    }
    assert chunks[1]["choices"][0]["delta"] == {"content": "Answer"}


def test_function_calls_across_events_get_running_indexes():
    def call(name: str, args: dict) -> dict:
        return {"functionCall": {"name": name, "args": args}}

    events = [
        {"candidates": [{"content": {"parts": [{"text": "Let me look."}]}}], "responseId": "r"},
        {"candidates": [{"content": {"parts": [call("a", {"q": 1}), call("b", {})]}}]},
        {"candidates": [{"content": {"parts": [call("c", {"z": None})]}, "finishReason": "STOP"}]},
    ]
    chunks = run(sse(*events))
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert [(tc["index"], tc["id"], tc["function"]["name"]) for tc in calls] == [
        (0, "call_0", "a"),
        (1, "call_1", "b"),
        (2, "call_2", "c"),
    ]
    assert calls[2]["function"]["arguments"] == '{"z":null}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert all(c["id"] == "r" for c in chunks)


def test_usage_is_sent_once_from_the_last_metadata():
    def meta(n: int) -> dict:
        return {"promptTokenCount": 5, "candidatesTokenCount": n, "totalTokenCount": 5 + n}

    chunks = run(sse(text_event("a", usageMetadata=meta(1)), text_event("b", "STOP", usageMetadata=meta(2))))
    with_usage = [c for c in chunks if "usage" in c]
    assert len(with_usage) == 1 and with_usage[0] is chunks[-1]
    assert with_usage[0]["choices"] == []
    assert (with_usage[0]["usage"]["completion_tokens"], with_usage[0]["usage"]["total_tokens"]) == (2, 7)


def test_finish_reason_mapping_in_stream():
    assert run(sse(text_event("x", "MAX_TOKENS")))[0]["choices"][0]["finish_reason"] == "length"
    empty = {"candidates": [{"finishReason": "SAFETY", "index": 0}], "responseId": "r"}
    chunk = run(sse(text_event("x"), empty))[1]
    assert chunk["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "content_filter",
        "logprobs": None,
    }


def test_blocked_prompt_in_stream():
    chunks = run(
        sse(
            {
                "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                "usageMetadata": {"promptTokenCount": 3},
            }
        )
    )
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["choices"][0]["finish_reason"] == "content_filter"
    assert chunks[1]["choices"] == [] and chunks[1]["usage"]["prompt_tokens"] == 3


def test_error_inside_stream_raises():
    parser = GeminiProvider().stream_parser()
    assert parser.feed(sse(text_event("partial")))
    err = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    with pytest.raises(UpstreamError) as info:
        parser.feed(sse(err))
    assert (info.value.status, info.value.kind) == (503, "overloaded")


def test_error_in_final_unterminated_event_raises_at_close():
    parser = GeminiProvider().stream_parser()
    parser.feed(b'data: {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}')
    with pytest.raises(UpstreamError) as info:
        parser.close()
    assert info.value.kind == "rate_limited"


def test_stream_without_finish_reason_is_broken():
    parser = GeminiProvider().stream_parser()
    parser.feed(sse(text_event("cut off")))
    with pytest.raises(UpstreamError) as info:
        parser.close()
    assert (info.value.status, info.value.kind, info.value.message) == (502, "server", "stream ended early")


def test_empty_stream_is_broken():
    with pytest.raises(UpstreamError):
        GeminiProvider().stream_parser().close()


def test_malformed_json_raises():
    parser = GeminiProvider().stream_parser()
    with pytest.raises(UpstreamError) as info:
        parser.feed(b"data: {not json\r\n\r\n")
    assert info.value.kind == "server"


def test_multiple_candidates_each_start_with_role_and_must_finish():
    def two(finish: str | None) -> dict:
        cands = [{"index": i, "content": {"parts": [{"text": f"c{i}"}]}} for i in (0, 1)]
        if finish:
            for c in cands:
                c["finishReason"] = finish
        return {"candidates": cands, "responseId": "r"}

    chunks = run(sse(two(None), two("STOP")))
    firsts = [c["choices"][0] for c in chunks[:2]]
    assert [(f["index"], f["delta"]["role"]) for f in firsts] == [(0, "assistant"), (1, "assistant")]
    assert [c["choices"][0]["finish_reason"] for c in chunks[2:]] == ["stop", "stop"]
    half = {
        "candidates": [
            {"index": 0, "content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"},
            {"index": 1, "content": {"parts": [{"text": "y"}]}},
        ]
    }
    parser = GeminiProvider().stream_parser()
    parser.feed(sse(half))
    with pytest.raises(UpstreamError):
        parser.close()
