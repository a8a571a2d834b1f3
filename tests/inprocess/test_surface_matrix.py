"""Every caller surface × stream / non-stream × success / fallback / upstream error, through the real app in process.

Each case checks the three things a request leaves behind: what the caller got (status, shape, text), the log row
in the store (status, provider, attempts, error), and what reached the fake upstream (URL, key, body). The
upstream is the recorded provider traffic (tests/support/upstream_answers.py) unless a case makes a host fail.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from support.asgi_gateway import ANTHROPIC_KEY, OPENAI_KEY, AsgiGateway, inprocess_config
from support.fake_transport import Sent, recorded_provider
from support.upstream_answers import Reply, completed_response, recorded
from support.wire import chat_stream_text, exchange, sse_events, stream

OPENAI = "api.openai.com"
ANTHROPIC = "api.anthropic.com"
VLLM = "vllm.internal:8000"

CHAT_TEXT = exchange("openai/chat_completion.json")["response"]["body"]["choices"][0]["message"]["content"]
CHAT_STREAM_TEXT = chat_stream_text("openai/chat_completion_stream_usage.sse")
CLAUDE_TEXT = exchange("anthropic/messages.json")["response"]["body"]["content"][0]["text"]
CLAUDE_STREAM_TEXT = "".join(
    e["delta"].get("text", "")
    for e in sse_events(stream("anthropic/messages_stream_text.sse"))
    if e["type"] == "content_block_delta"
)
RESPONSES_TEXT = completed_response(stream("openai/responses_stream_text.sse"))["output"][0]["content"][0][
    "text"
]
LEGACY_TEXT = " there was a gateway."  # the mock's synthetic /completions answer (upstream_answers.py)


@pytest_asyncio.fixture(scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsgiGateway]:
    """The circuit breaker never opens here: each case starts from a healthy provider (test_breaker_* prove it)."""
    config = inprocess_config(routing={"breaker": {"failures": 1_000_000}})
    async with AsgiGateway(tmp_path_factory.mktemp("matrix"), config) as g:
        yield g


def chat_text(body: dict[str, Any]) -> str:
    return body["choices"][0]["message"]["content"]


def chat_stream(events: list[dict[str, Any]]) -> str:
    return "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices") or ())


def legacy_text(body: dict[str, Any]) -> str:
    return body["choices"][0]["text"]


def legacy_stream(events: list[dict[str, Any]]) -> str:
    return "".join(c.get("text") or "" for e in events for c in e.get("choices") or ())


def messages_text(body: dict[str, Any]) -> str:
    return "".join(b.get("text", "") for b in body["content"])


def messages_stream(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")


def responses_text(body: dict[str, Any]) -> str:
    return "".join(c["text"] for item in body["output"] if item["type"] == "message" for c in item["content"])


def responses_stream(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


def embedding_text(body: dict[str, Any]) -> str:
    return f"{len(body['data'])}x{len(body['data'][0]['embedding'])}"


@dataclass(frozen=True)
class Surface:
    path: str
    body: Callable[[str, str], dict[str, Any]]  # (model, user text) -> request body
    model: str  # one provider: the primary host
    chain: str  # primary host, then a fallback host
    primary: tuple[str, str]  # (host, path) the primary request reaches
    fallback: tuple[str, str]
    text: Callable[[dict[str, Any]], str]
    stream_text: Callable[[list[dict[str, Any]]], str] | None
    expected: tuple[str, str]  # (text from the primary, text from the fallback), non-stream
    expected_stream: tuple[str, str] = ("", "")
    anthropic_errors: bool = False  # errors in Anthropic's shape (`type: error`)


def _chat(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


SURFACES = {
    "chat": Surface(
        "/v1/chat/completions",
        _chat,
        "gpt-4o-mini/openai",
        "gpt-4o-mini/openai,llama3/my-vllm",
        (OPENAI, "/v1/chat/completions"),
        (VLLM, "/v1/chat/completions"),
        chat_text,
        chat_stream,
        (CHAT_TEXT, CHAT_TEXT),
        (CHAT_STREAM_TEXT, CHAT_STREAM_TEXT),
    ),
    "completions": Surface(
        "/v1/completions",
        lambda m, t: {"model": m, "prompt": t, "max_tokens": 16},
        "gpt-4o-mini/openai",
        "gpt-4o-mini/openai,llama3/my-vllm",
        (OPENAI, "/v1/chat/completions"),  # a chat model: the prompt becomes one user message
        (VLLM, "/v1/completions"),  # a provider with `completions: true` takes the legacy body as it is
        legacy_text,
        legacy_stream,
        (CHAT_TEXT, LEGACY_TEXT),
        (CHAT_STREAM_TEXT, LEGACY_TEXT),
    ),
    "messages": Surface(
        "/v1/messages",
        lambda m, t: {"model": m, "max_tokens": 64, "messages": [{"role": "user", "content": t}]},
        "claude-sonnet-4/anthropic",
        "claude-sonnet-4/anthropic,gpt-4o-mini/openai",
        (ANTHROPIC, "/v1/messages"),
        (OPENAI, "/v1/chat/completions"),  # translated to Chat Completions and back
        messages_text,
        messages_stream,
        (CLAUDE_TEXT, CHAT_TEXT),
        (CLAUDE_STREAM_TEXT, CHAT_STREAM_TEXT),
        anthropic_errors=True,
    ),
    "responses": Surface(
        "/v1/responses",
        lambda m, t: {"model": m, "input": t},
        "gpt-4o-mini/openai",
        "gpt-4o-mini/openai,claude-sonnet-4/anthropic",
        (OPENAI, "/v1/responses"),
        (ANTHROPIC, "/v1/messages"),  # bridged: Messages upstream, Responses to the caller
        responses_text,
        responses_stream,
        (RESPONSES_TEXT, CLAUDE_TEXT),
        (RESPONSES_TEXT, CLAUDE_STREAM_TEXT),
    ),
    "embeddings": Surface(
        "/v1/embeddings",
        lambda m, t: {"model": m, "input": t, "encoding_format": "float"},
        "text-embedding-3-small/openai",
        "text-embedding-3-small/openai,text-embedding-3-small/my-vllm",
        (OPENAI, "/v1/embeddings"),
        (VLLM, "/v1/embeddings"),
        embedding_text,
        None,
        ("1x128", "1x128"),
    ),
}
CASES = [
    (name, s) for name in SURFACES for s in (False, True) if not (s and SURFACES[name].stream_text is None)
]
IDS = [f"{name}-{'stream' if s else 'whole'}" for name, s in CASES]


def failing(host: str, reply: Reply) -> Callable[[Sent], Reply]:
    """The recorded provider, except that every request to `host` gets `reply`."""
    return lambda sent: reply if sent.host == host else recorded_provider(sent)


SERVER_ERROR = Reply(
    500,
    {"content-type": "application/json"},
    json.dumps({"error": {"message": "The server had an error", "type": "server_error"}}).encode(),
)
FAILURES = {
    "5xx": (SERVER_ERROR, 500),
    "timeout": (Reply(delay=2.0), 504),  # past the 200 ms first-byte timeout every case asks for
    "reset": (Reply(fail="connection"), 502),
}
TIMEOUT = {"Switchyard-First-Byte-Timeout-Ms": "200"}


async def call(gw: AsgiGateway, surface: Surface, model: str, streaming: bool) -> tuple[Any, dict[str, Any]]:
    """(the response, the body sent)"""
    body = surface.body(model, "Say hello")
    if streaming:
        body["stream"] = True
    return await gw.post(surface.path, body, **TIMEOUT), body


def answer_text(surface: Surface, r: Any, streaming: bool) -> str:
    if streaming:
        assert r.headers["content-type"].startswith("text/event-stream"), r.text
        assert surface.stream_text is not None
        return surface.stream_text(sse_events(r.content))
    assert r.headers["content-type"].startswith("application/json")
    return surface.text(r.json())


def error_of(surface: Surface, r: Any) -> dict[str, Any]:
    """The error object, checked to be in the caller's wire format."""
    body = r.json()
    if surface.anthropic_errors:
        assert body["type"] == "error", body
    assert isinstance(body["error"]["message"], str) and body["error"]["type"], body
    return body["error"]


def reached(gw: AsgiGateway, start: int) -> list[tuple[str, str]]:
    return [(s.host, s.path) for s in gw.transport.sent[start:]]


@pytest.mark.parametrize(("name", "streaming"), CASES, ids=IDS)
async def test_success(gw: AsgiGateway, name: str, streaming: bool) -> None:
    surface = SURFACES[name]
    start = len(gw.transport.sent)
    r, body = await call(gw, surface, surface.model, streaming)
    assert r.status_code == 200, r.text
    want = (surface.expected_stream if streaming else surface.expected)[0]
    assert answer_text(surface, r, streaming) == want
    # upstream: one request, to the provider's own URL, with the gateway's key for it, never the caller's
    assert reached(gw, start) == [surface.primary]
    sent = gw.transport.sent[-1]
    auth = sent.headers.get("authorization", "") + sent.headers.get("x-api-key", "")
    assert (ANTHROPIC_KEY if sent.host == ANTHROPIC else OPENAI_KEY) in auth
    assert gw.key not in json.dumps(sent.headers) and gw.key.encode() not in sent.raw
    assert sent.body["model"] in {"gpt-4o-mini", "claude-sonnet-4-20250514", "text-embedding-3-small"}
    assert bool(sent.body.get("stream")) == streaming
    if streaming and sent.path.endswith("/chat/completions"):
        assert sent.body["stream_options"] == {"include_usage": True}  # usage always asked for
    # the log row
    row = await gw.row(r.headers["helicone-id"])
    assert (row["status"], row["path"], row["stream"], row["error"]) == (200, surface.path, streaming, None)
    assert row["requested_model"] == surface.model
    assert [(a["provider"], a["status"]) for a in row["attempts"]] == [(surface.model.split("/")[1], 200)]
    assert row["total_tokens"] > 0 and row["cost_usd"] > 0
    assert json.loads(row["request_body"]) == body  # the logged request is what the caller sent


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize(("name", "streaming"), CASES, ids=IDS)
async def test_fallback(gw: AsgiGateway, name: str, streaming: bool, failure: str) -> None:
    surface = SURFACES[name]
    reply, status = FAILURES[failure]
    gw.transport.handler = failing(surface.primary[0], reply)
    start = len(gw.transport.sent)
    r, _ = await call(gw, surface, surface.chain, streaming)
    assert r.status_code == 200, r.text
    want = (surface.expected_stream if streaming else surface.expected)[1]
    assert answer_text(surface, r, streaming) == want
    assert reached(gw, start) == [surface.primary, surface.fallback]
    row = await gw.row(r.headers["helicone-id"])
    assert row["status"] == 200 and row["error"] is None
    first, second = row["attempts"]
    assert first["status"] == status and second["status"] == 200
    assert first["provider"] == surface.chain.split(",")[0].split("/")[1]
    assert row["provider"] == second["provider"] == surface.chain.split(",")[1].split("/")[1]


UPSTREAM_4XX = {
    False: recorded("openai/error_400_unsupported_value.json"),
    True: recorded("anthropic/error_400_invalid_request.json"),
}


@pytest.mark.parametrize("failure", ["4xx", *FAILURES])
@pytest.mark.parametrize(("name", "streaming"), CASES, ids=IDS)
async def test_error(gw: AsgiGateway, name: str, streaming: bool, failure: str) -> None:
    """One provider, and it fails: the caller gets the failure in its own wire format, before any stream began."""
    surface = SURFACES[name]
    if failure == "4xx":
        reply, status = UPSTREAM_4XX[surface.primary[0] == ANTHROPIC], 400
    else:
        reply, status = FAILURES[failure]
    gw.transport.handler = failing(surface.primary[0], reply)
    start = len(gw.transport.sent)
    r, _ = await call(gw, surface, surface.model, streaming)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = error_of(surface, r)
    if failure == "4xx":  # the provider's own message reaches the caller
        upstream_message = json.loads(reply.body)["error"]["message"]
        assert upstream_message in err["message"]
    assert OPENAI_KEY not in r.text and ANTHROPIC_KEY not in r.text
    assert reached(gw, start) == [surface.primary]  # a single attempt; nothing retried by default
    row = await gw.row(r.headers["helicone-id"])
    assert row["status"] == status and row["error"]
    assert [a["status"] for a in row["attempts"]] == [status]
