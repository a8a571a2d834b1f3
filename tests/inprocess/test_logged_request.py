"""The request as the log keeps it, through the real app in process: the caller's bytes as received (odd spacing,
key order and escapes included) — not a re-serialisation — for OpenAI chat and Anthropic callers, also when the
surface normalises the body for the upstream; a body a step replaced (token-limit handler) is kept with the step's
name. And an Anthropic caller's body is translated once for a plan whose attempts all need it."""

from __future__ import annotations

import orjson

from support.asgi_gateway import AsgiGateway
from switchyard.api import surfaces
from switchyard.formats import anthropic_messages
from switchyard.pipeline.record import REWRITTEN_BY

CHAT_RAW = (
    b'{ "temperature" : 0.5,\n  "model": "gpt-4o-mini",'
    b' "messages": [{"content": "caf\\u00e9?", "role": "user"}] }\n'
)
MESSAGES_RAW = (
    b'{"max_tokens":64,  "model":"claude-3-5-sonnet-20241022",\n'
    b'"messages":[{"role":"user","content":[{"type":"text","text":"Hi \\ud83d\\ude00"}]}]}'
)
LITELLM_RAW = b'{"model": "gpt-4o-mini", "messages": [], "prompt": "Once upon a time"}'


async def _post_raw(gw: AsgiGateway, path: str, raw: bytes, **headers: str) -> str:
    r = await gw.client.post(
        path, content=raw, headers=gw.headers(**{"Content-Type": "application/json", **headers})
    )
    assert r.status_code == 200, r.text
    return r.headers["helicone-id"]


async def test_a_chat_request_is_logged_byte_for_byte(gw: AsgiGateway):
    row = await gw.row(await _post_raw(gw, "/v1/chat/completions", CHAT_RAW))
    assert row["request_body"] == CHAT_RAW.decode()
    assert REWRITTEN_BY not in row["properties"]


async def test_an_anthropic_request_is_logged_byte_for_byte(gw: AsgiGateway):
    row = await gw.row(await _post_raw(gw, "/v1/messages", MESSAGES_RAW))
    assert row["request_body"] == MESSAGES_RAW.decode()


async def test_a_litellm_prompt_on_chat_goes_upstream_as_messages_and_is_logged_as_sent(gw: AsgiGateway):
    before = len(gw.transport.sent)
    row = await gw.row(await _post_raw(gw, "/v1/chat/completions", LITELLM_RAW))
    sent = [s for s in gw.transport.sent[before:] if s.url.endswith("/chat/completions")]
    assert orjson.loads(sent[-1].raw)["messages"] == [{"role": "user", "content": "Once upon a time"}]
    assert row["request_body"] == LITELLM_RAW.decode()


async def test_a_body_the_token_limit_handler_cut_is_logged_with_its_name(gw: AsgiGateway):
    big = {
        "model": "gpt-4o-mini",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "word " * 600_000}],
    }
    rid = await _post_raw(
        gw,
        "/v1/chat/completions",
        orjson.dumps(big),
        **{"Helicone-Token-Limit-Exception-Handler": "truncate"},
    )
    row = await gw.row(rid)
    logged = orjson.loads(row["request_body"])
    assert len(logged["messages"][0]["content"]) < len(big["messages"][0]["content"])
    assert row["properties"][REWRITTEN_BY] == "token-limit truncate"


async def test_an_anthropic_body_is_translated_once_per_request(gw: AsgiGateway, monkeypatch):
    """Checked (validated) and sent to an OpenAI model: one translation, where there used to be one per step."""
    calls = []
    real = anthropic_messages.to_chat

    def counting(body):
        calls.append(1)
        return real(body)

    for module in (surfaces, anthropic_messages):  # wherever a translation may be made from
        monkeypatch.setattr(module, "to_chat", counting)
    raw = MESSAGES_RAW.replace(b"claude-3-5-sonnet-20241022", b"gpt-4o-mini,gpt-4o-mini/openai")
    await _post_raw(gw, "/v1/messages", raw)
    assert len(calls) == 1
