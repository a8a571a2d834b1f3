"""Fallback across injected upstream faults, stream and non-stream, with and without a healthy fallback.

The upstream is tests/support/fault_upstream.py: the model name picks the fault (`fault-503.<tag>/flaky`), the
`steady` provider answers normally. With a fallback the caller always gets 200 and the healthy answer; without
one it gets the fault's status and an OpenAI-shaped error. Every case is logged with each of its attempts.
The last section does the same for the Anthropic wire format, on both sides. The circuit breaker is kept from staying open here (this module fails `flaky` on purpose, many times);
test_circuit_breaker.py covers it.
"""

from __future__ import annotations

import json
import uuid

import anthropic
import httpx
import openai
import pytest

from support.fault_calls import (
    NO_BREAKER,
    STEADY,
    attempts,
    call,
    sdk_complete,
    sdk_stream,
    start_gateway,
    tag,
)
from support.fault_upstream import (
    anthropic_text,
    content_prefix,
    fault_message,
    healthy_completion_text,
    healthy_text,
)
from support.wire import sse_events

FIRST_BYTE_300 = {"Switchyard-First-Byte-Timeout-Ms": "300"}


@pytest.fixture(scope="module")
def gw(fault, tmp_path_factory):
    g = start_gateway(
        tmp_path_factory.mktemp("fault-matrix"),
        fault,
        {
            "flaky": fault.provider("flaky"),
            "steady": fault.provider("steady"),
            # a built-in provider, so the attempt knows its model's context window; the fault sits in its URL
            "openai": fault.provider("openai", None, fault="400ctx"),
            "aflaky": fault.provider("aflaky", "anthropic"),
            "asteady": fault.provider("asteady", "anthropic"),
        },
        routing=NO_BREAKER,
        upstream={"first_byte_timeout": 10},
    )
    yield g
    g.stop()


# fault → (caller status without fallback, attempt kind or None for "any", words the message must contain)
EXPECTED = {
    "500": (500, "server", fault_message("500")),
    "502": (502, "server", fault_message("502")),
    "503": (503, "overloaded", fault_message("503")),
    "429": (429, "rate_limited", fault_message("429")),
    "hang": (504, "timeout", "timed out"),
    "reset": (502, "connection", "connection"),
    "reset-first": (502, "connection", "connection"),  # non-stream: the body is cut off halfway
    "garbage": (502, None, "json"),
    "error-event": (502, None, "overloaded mid-stream"),
}
NON_STREAM = ["500", "502", "503", "429", "hang", "reset", "reset-first", "garbage"]
# error-event: `data: {"error": ...}` after the first event, before any content (streams only)
STREAM = [*NON_STREAM, "error-event"]
CASES = [pytest.param(f, False, id=f"nonstream-{f}") for f in NON_STREAM] + [
    pytest.param(f, True, id=f"stream-{f}") for f in STREAM
]


def _headers(fault_name: str) -> dict[str, str]:
    return FIRST_BYTE_300 if fault_name == "hang" else {}


def _check_failed_attempt(attempt: dict, fault_name: str, model: str) -> None:
    status, kind, _ = EXPECTED[fault_name]
    assert attempt["provider"] == "flaky" and attempt["model"] == model, attempt
    assert attempt["status"] == status, attempt
    assert attempt.get("error"), attempt
    if kind is not None:
        assert attempt["kind"] == kind, attempt
    else:
        assert isinstance(attempt.get("kind"), str) and attempt["kind"], attempt


@pytest.mark.parametrize(("fault_name", "stream"), CASES)
def test_with_fallback_the_caller_gets_the_healthy_answer(gw, fault, fault_name, stream):
    model = f"fault-{fault_name}.{tag()}"
    if stream:
        read = sdk_stream(gw, f"{model}/flaky,{STEADY}", headers=_headers(fault_name))
        assert read.error is None, read.error
        assert read.text == healthy_text() and read.finish_reason == "stop"
        rid, elapsed = read.request_id, read.elapsed
    else:
        text, rid, elapsed = sdk_complete(gw, f"{model}/flaky,{STEADY}", headers=_headers(fault_name))
        assert text == healthy_completion_text()
    assert elapsed < 2.5  # the hang case gives up after the 300 ms first-byte timeout
    assert len(fault.requests(model=model)) >= 1
    row, tried = attempts(gw, rid)
    assert row["response_status"] == 200 and row["provider"] == "steady"
    if not stream:  # (streams: see test_a_stream_the_sdk_read_to_the_end_is_logged_as_clean)
        assert not row["error"], row
    assert len(tried) == 2, tried
    _check_failed_attempt(tried[0], fault_name, model)
    assert tried[1]["provider"] == "steady" and tried[1]["status"] == 200 and not tried[1].get("error"), tried


@pytest.mark.parametrize(("fault_name", "stream"), CASES)
def test_without_fallback_the_caller_gets_the_right_error(gw, fault, fault_name, stream):
    model = f"fault-{fault_name}.{tag()}"
    mark = fault.mark()
    r = call(gw, f"{model}/flaky", stream=stream, headers=_headers(fault_name))
    status, _, words = EXPECTED[fault_name]
    assert r.status == status, r.body[:300]
    assert r.headers["content-type"].startswith("application/json")
    err = r.error()
    assert words.lower() in err["message"].lower(), err
    if fault_name == "429":
        assert int(r.headers["retry-after"]) >= 1
    assert r.elapsed < 2.5
    assert r.headers.get("helicone-id") == r.request_id
    assert not fault.requests(provider="steady", since=mark)
    row, tried = attempts(gw, r.request_id)
    assert row["response_status"] == status and row["error"]
    assert len(tried) == 1, tried
    _check_failed_attempt(tried[0], fault_name, model)


# -- which failures move on to the next attempt --------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
@pytest.mark.parametrize("fault_name", ["401", "403", "408", "409", "429", "500", "503"])
def test_these_errors_move_on_to_the_next_attempt(gw, fault, fault_name, stream):
    model = f"fault-{fault_name}.{tag()}"
    r = call(gw, f"{model}/flaky,{STEADY}", stream=stream)
    assert r.status == 200, r.body[:300]
    _, tried = attempts(gw, r.request_id)
    assert [a["provider"] for a in tried] == ["flaky", "steady"], tried
    assert tried[0]["status"] == int(fault_name[:3]) and tried[1]["status"] == 200


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_a_plain_400_is_the_callers_fault_and_does_not_move_on(gw, fault, stream):
    model = f"fault-400.{tag()}"
    mark = fault.mark()
    r = call(gw, f"{model}/flaky,{STEADY}", stream=stream)
    assert r.status == 400
    assert fault_message("400") in r.error()["message"]
    assert not fault.requests(provider="steady", since=mark)
    row, tried = attempts(gw, r.request_id)
    assert row["response_status"] == 400
    assert [(a["provider"], a["status"]) for a in tried] == [("flaky", 400)]


def test_a_context_length_400_moves_on_to_a_larger_window(gw, fault):
    """gpt-4o-mini on `openai` (a known 128k window) is too short for the prompt; `steady` may be larger."""
    mark = fault.mark()
    r = call(gw, f"gpt-4o-mini/openai,{STEADY}")
    assert r.status == 200, r.body[:300]
    assert [x.provider for x in fault.requests(since=mark)] == ["openai", "steady"]
    _, tried = attempts(gw, r.request_id)
    assert [(a["provider"], a["status"]) for a in tried] == [("openai", 400), ("steady", 200)]
    assert tried[0]["kind"] == "context_length"


def test_a_context_length_400_moves_on_even_when_the_window_is_unknown(gw, fault):
    r = call(gw, f"fault-400ctx.{tag()}/flaky,{STEADY}")
    assert r.status == 200, r.body[:300]
    _, tried = attempts(gw, r.request_id)
    assert [(a["provider"], a["status"]) for a in tried] == [("flaky", 400), ("steady", 200)]


# -- where a stream commits ----------------------------------------------------------------------
# At the first caller-visible content, not at the first upstream event: the `reset-first` and `error-event`
# stream cases above fail after a content-free first event and still fall back. After content, a failure ends
# the stream with an error event in the caller's format (the openai SDK raises APIError) and the log row
# records it; with `Switchyard-Stream-Continuation: true` the next attempt continues the text instead.
CONTINUE = {"Switchyard-Stream-Continuation": "true"}
AFTER_CONTENT = ["reset-content", "error-content"]


@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "alone"])
@pytest.mark.parametrize("fault_name", AFTER_CONTENT)
def test_a_failure_after_content_ends_the_stream_with_an_error_event(gw, fault, fault_name, fallback):
    model = f"fault-{fault_name}.{tag()}"
    mark = fault.mark()
    read = sdk_stream(gw, f"{model}/flaky,{STEADY}" if fallback else f"{model}/flaky")
    assert isinstance(read.error, openai.APIError), read
    assert read.text == content_prefix()  # what was sent stays sent; nothing is repeated or lost
    # committed: no fallback behind the caller's back
    assert not fault.requests(provider="steady", since=mark)
    row, tried = attempts(gw, read.request_id)
    assert row["error"], row
    assert row["provider"] == "flaky"
    assert [a["provider"] for a in tried] == ["flaky"], tried


def test_the_error_event_is_in_the_openai_error_shape(gw, fault):
    r = call(gw, f"fault-reset-content.{tag()}/flaky", stream=True)
    assert r.status == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.body)
    assert "".join(ev["choices"][0]["delta"].get("content") or "" for ev in events[:-1]) == content_prefix()
    last = events[-1]
    assert set(last) == {"error"}, last
    assert isinstance(last["error"]["message"], str) and last["error"]["message"]
    assert b"[DONE]" not in r.body  # an interrupted stream must not look complete


@pytest.mark.parametrize("fault_name", AFTER_CONTENT)
def test_continuation_resumes_on_the_next_attempt_as_one_stream(gw, fault, fault_name):
    model = f"fault-{fault_name}.{tag()}"
    mark = fault.mark()
    read = sdk_stream(gw, f"{model}/flaky,{STEADY}", headers=CONTINUE)
    assert read.error is None, read.error
    assert read.text == content_prefix() + healthy_text()
    assert read.finish_reason == "stop"
    resumed = fault.requests(provider="steady", since=mark)
    assert len(resumed) == 1
    assert content_prefix() in json.dumps(resumed[0].body["messages"])  # asked to go on from the text so far
    row, tried = attempts(gw, read.request_id)
    assert row["provider"] == "steady" and row["response_status"] == 200
    assert [a["provider"] for a in tried] == ["flaky", "steady"], tried
    assert tried[0].get("error") and tried[1]["status"] == 200


@pytest.mark.parametrize("fault_name", AFTER_CONTENT)
def test_a_continued_stream_is_framed_as_one_stream_and_logged_clean(gw, fault, fault_name):
    r = call(gw, f"fault-{fault_name}.{tag()}/flaky,{STEADY}", stream=True, headers=CONTINUE)
    assert r.status == 200
    assert r.body.count(b"data: [DONE]") == 1 and r.body.rstrip().endswith(b"data: [DONE]")
    events = sse_events(r.body)
    assert not any("error" in ev for ev in events)
    text = "".join(c["delta"].get("content") or "" for ev in events for c in ev.get("choices") or ())
    assert text == content_prefix() + healthy_text()
    assert sum(1 for ev in events for c in ev.get("choices") or () if c.get("finish_reason")) == 1
    row, _ = attempts(gw, r.request_id)
    assert not row["error"], row


def test_continuation_without_a_next_attempt_still_ends_with_an_error_event(gw, fault):
    read = sdk_stream(gw, f"fault-reset-content.{tag()}/flaky", headers=CONTINUE)
    assert isinstance(read.error, openai.APIError)
    assert read.text == content_prefix()
    row, _ = attempts(gw, read.request_id)
    assert row["error"]


def test_a_healthy_stream_is_untouched(gw, fault):
    """The control case: the same route without a fault streams the recorded answer, [DONE] included."""
    r = call(gw, STEADY, stream=True)
    assert r.status == 200 and r.body.rstrip().endswith(b"data: [DONE]")
    events = sse_events(r.body)
    assert "".join(c["delta"].get("content") or "" for ev in events for c in ev["choices"]) == healthy_text()
    row, _ = attempts(gw, r.request_id)
    assert not row["error"], row


def test_a_stream_the_sdk_read_to_the_end_is_logged_as_clean(gw, fault):
    # The SDK hangs up right after `data: [DONE]`, often before the upstream's own end: still a clean answer.
    for _ in range(10):
        read = sdk_stream(gw, STEADY)
        assert read.error is None and read.text == healthy_text()
        row, _ = attempts(gw, read.request_id)
        assert not row["error"], row


# -- the Anthropic wire format -------------------------------------------------------------------
ASTEADY = "claude-sonnet-4/asteady"


def _anthropic_stream(gw, model: str) -> tuple[str, str, anthropic.APIError | None]:
    rid, text, error = str(uuid.uuid4()), "", None
    client = anthropic.Anthropic(api_key=gw.key, base_url=gw.url, max_retries=0, timeout=8)
    try:
        with client.messages.stream(
            model=model,
            max_tokens=64,
            messages=[{"role": "user", "content": "1+1?"}],
            extra_headers={"Helicone-Request-Id": rid},
        ) as s:
            for piece in s.text_stream:
                text += piece
    except anthropic.APIError as e:
        error = e
    return text, rid, error


@pytest.mark.parametrize("fault_name", ["503", "reset", "reset-first", "error-event"])
def test_anthropic_caller_falls_back_before_content(gw, fault, fault_name):
    model = f"fault-{fault_name}.{tag()}"
    text, rid, error = _anthropic_stream(gw, f"{model}/aflaky,{ASTEADY}")
    assert error is None, error
    assert text == anthropic_text()
    _, tried = attempts(gw, rid)
    assert [(a["provider"], a["status"] == 200) for a in tried] == [("aflaky", False), ("asteady", True)], (
        tried
    )


@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "alone"])
def test_anthropic_caller_gets_an_anthropic_error_event_after_content(gw, fault, fallback):
    model = f"fault-error-content.{tag()}"
    mark = fault.mark()
    text, rid, error = _anthropic_stream(gw, f"{model}/aflaky,{ASTEADY}" if fallback else f"{model}/aflaky")
    assert isinstance(error, anthropic.APIError), error
    assert text == anthropic_text()  # the content sent before the failure
    assert not fault.requests(provider="asteady", since=mark)
    row, _ = attempts(gw, rid)
    assert row["error"]


def test_anthropic_caller_without_fallback_gets_the_status_in_anthropic_shape(gw, fault):
    r = httpx.post(
        f"{gw.url}/v1/messages",
        timeout=8,
        headers={"x-api-key": gw.key},
        json={
            "model": f"fault-503.{tag()}/aflaky",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert r.status_code == 503
    body = r.json()
    assert body["type"] == "error" and fault_message("503") in body["error"]["message"], body


def test_openai_caller_of_an_anthropic_upstream_falls_back_before_content(gw, fault):
    read = sdk_stream(gw, f"fault-error-event.{tag()}/aflaky,{STEADY}")
    assert read.error is None and read.text == healthy_text()


def test_openai_caller_of_an_anthropic_upstream_gets_an_error_after_content(gw, fault):
    read = sdk_stream(gw, f"fault-error-content.{tag()}/aflaky,{STEADY}")
    assert isinstance(read.error, openai.APIError)
    assert read.text == anthropic_text()
