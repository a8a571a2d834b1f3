"""The request as the caller sent it: surface checks never change the caller's body, the log keeps the caller's
bytes (or, when a step replaced the body, that body and the step's name), and an Anthropic or Responses caller's
body is translated to chat once per request however many attempts send it."""

from __future__ import annotations

import copy

import orjson
import pytest

from switchyard.api import surfaces
from switchyard.errors import GatewayError
from switchyard.pipeline.caller_body import parse_json_body
from switchyard.pipeline.context import RequestContext
from switchyard.pipeline.exchange import Exchange
from switchyard.pipeline.headers import HeliconeHeaders
from switchyard.pipeline.record import REWRITTEN_BY, build_record

# Bytes no serialiser would produce: odd spacing, key order, an escaped non-ASCII character, a trailing newline.
CHAT_RAW = (
    b'{ "temperature" : 0.5,\n  "model": "gpt-4o-mini",'
    b' "messages": [{"content": "caf\\u00e9?", "role": "user"}] }\n'
)
MESSAGES_RAW = (
    b'{"max_tokens":64,  "model":"claude-sonnet-4-5",\n'
    b'"system": "Be brief.", "messages":[{"role":"user","content":[{"type":"text","text":"Hi \\ud83d\\ude00"}]}]}'
)
LITELLM_RAW = b'{"model": "gpt-4o-mini", "messages": [], "prompt": "Once upon a time", "max_tokens": 5}'


def _checked(spec: surfaces.SurfaceSpec, raw: bytes) -> tuple[RequestContext, dict, dict]:
    """What handle does with a body: parse, make the surface, check; the context as the record reads it."""
    ctx = RequestContext(path="/v1/x", helicone=HeliconeHeaders(request_id="r1", uid="u1"))
    ctx.raw_body = raw
    sent = ctx.body = parse_json_body(raw)
    before = copy.deepcopy(sent)
    surface = spec.make({})
    ctx.body = spec.check(sent, surface)
    return ctx, sent, before


def test_a_chat_request_is_logged_as_the_callers_bytes():
    ctx, sent, before = _checked(surfaces.CHAT, CHAT_RAW)
    assert sent == before and ctx.body is sent  # nothing to normalise: the caller's dict goes on as is
    row = build_record(ctx)
    assert row["request_body"] == CHAT_RAW.decode()
    assert REWRITTEN_BY not in row["properties"]


def test_an_anthropic_request_is_logged_as_the_callers_bytes():
    ctx, sent, before = _checked(surfaces.MESSAGES, MESSAGES_RAW)
    assert sent == before  # the check translated it (to validate it) without touching it
    assert build_record(ctx)["request_body"] == MESSAGES_RAW.decode()


def test_the_litellm_prompt_on_chat_is_served_as_messages_but_logged_as_sent():
    ctx, sent, before = _checked(surfaces.CHAT, LITELLM_RAW)
    assert sent == before and "prompt" in sent and sent["messages"] == []
    assert ctx.body["messages"] == [{"role": "user", "content": "Once upon a time"}]
    assert "prompt" not in ctx.body and ctx.body["max_tokens"] == 5
    assert list(ctx.body) == ["model", "messages", "max_tokens"]  # `messages` keeps its place
    assert build_record(ctx)["request_body"] == LITELLM_RAW.decode()


@pytest.mark.parametrize(
    ("spec", "body"),
    [
        (surfaces.CHAT, {"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 2}),
        (surfaces.COMPLETIONS, {"model": "m", "prompt": ["a", "b"], "max_tokens": 3}),
        (surfaces.MESSAGES, {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "x"}]}),
        (surfaces.RESPONSES, {"model": "m", "input": [{"role": "user", "content": "x"}], "store": False}),
        (surfaces.EMBEDDINGS, {"model": "m", "input": ["a"]}),
    ],
)
def test_no_surface_check_changes_the_callers_body(spec, body):
    before = copy.deepcopy(body)
    out = spec.check(body, spec.make({}))
    assert body == before
    assert out is body


def test_a_refused_body_is_left_as_it_was():
    body = {"model": "m", "messages": [], "prompt": 7}  # a prompt that is not text: not normalised, refused
    before = copy.deepcopy(body)
    with pytest.raises(GatewayError):
        surfaces.CHAT.check(body, surfaces.CHAT.make({}))
    assert body == before


def test_a_rewritten_body_is_logged_with_the_step_that_rewrote_it():
    ctx = RequestContext(path="/v1/chat/completions", helicone=HeliconeHeaders(request_id="r1", uid="u1"))
    ctx.raw_body = b'{"model":"m","prompt_id":"p1","inputs":{"x":"1"}}'
    x = Exchange(ctx, surfaces.CHAT, {}, [])
    x.body = ctx.body = parse_json_body(ctx.raw_body)
    x.rewrite(x.body, "prompt")  # the same dict: nothing was rewritten
    assert ctx.rewritten_by is None
    expanded = {"model": "m", "messages": [{"role": "user", "content": "1"}]}
    x.rewrite(expanded, "prompt")
    x.rewrite({**expanded, "messages": [{"role": "user", "content": "…"}]}, "token-limit truncate")
    row = build_record(ctx)
    assert orjson.loads(row["request_body"]) == {"model": "m", "messages": [{"role": "user", "content": "…"}]}
    assert row["properties"][REWRITTEN_BY] == "prompt, token-limit truncate"
    assert ctx.helicone.properties == {}  # the record's copy only: limits and traces see the caller's


def test_an_anthropic_body_is_translated_once_per_request(monkeypatch):
    calls = []
    real = surfaces.to_chat

    def counting(body):
        calls.append(body)
        return real(body)

    monkeypatch.setattr(surfaces, "to_chat", counting)
    body = orjson.loads(MESSAGES_RAW)
    surface = surfaces.MESSAGES.make({})
    surfaces.MESSAGES.check(body, surface)
    chats = [surface.request(body) for _ in range(3)]  # three attempts (or retries) of the plan
    assert len(calls) == 1 and chats[0] is chats[1] is chats[2]
    assert chats[0]["messages"][0]["role"] == "system"
    replaced = {**body, "max_tokens": 8}  # a token-limit handler's new body is translated afresh
    assert surface.request(replaced)["max_tokens"] == 8 and len(calls) == 2


def test_a_responses_body_is_translated_once_and_state_errors_still_raise():
    body = {"model": "m", "input": "hello", "instructions": "Be brief."}
    surface = surfaces.RESPONSES.make({})
    first = surface.request(body)
    assert surface.request(body) is first
    assert first["messages"][-1] == {"role": "user", "content": "hello"}
    surface.state_error = GatewayError(404, "Previous response not found.", code="not_found")
    with pytest.raises(GatewayError):
        surface.request(body)


def test_no_mapping_is_read_from_the_header():
    assert surfaces.MESSAGES.make({surfaces.MAPPING_HEADER: " no_mapping "}).no_mapping is True
    assert surfaces.MESSAGES.make({}).no_mapping is False
