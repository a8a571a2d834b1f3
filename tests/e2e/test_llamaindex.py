"""`llama_index.llms.helicone.Helicone` (the LlamaIndex examples of the seeds) against a real gateway process.

Worth knowing about this client (llama-index-llms-helicone 0.3.1 on openai 2.x):
- `api_key` only becomes an `Authorization: Bearer <key>` entry of `default_headers`; the underlying OpenAI
  client still wants its own key and raises "Missing credentials" unless OPENAI_API_KEY is set. Any value
  works because the header wins; the tests set a dummy one that the gateway would reject.
- `is_chat_model` defaults to False: then `chat()`/`stream_chat()` go to the legacy `/v1/completions` with a
  flattened prompt, so the seed's chat example for a chat-only model depends on the gateway mapping
  completions to chat.
- the helicone-id response header is not exposed by LlamaIndex; an httpx event hook on the client reads it.
"""

from __future__ import annotations

import json
import uuid

import httpx
import openai
import pytest

from support.deferred_import import deferred
from support.wire import chat_stream_text, exchange

# imported when a test here runs (llama_index.core takes ~1 s), not in every xdist worker's collection
llms = deferred("llama_index.core.llms")
helicone = deferred("llama_index.llms.helicone")

ANSWER = exchange("openai/chat_completion.json")["response"]["body"]["choices"][0]["message"]["content"]


STREAM_ANSWER = chat_stream_text("openai/chat_completion_stream_usage.sse")
TOOL_CALLS = exchange("openai/chat_completion_tool_calls.json")["response"]["body"]["choices"][0]["message"][
    "tool_calls"
]
STREAM_TOOL_CALLS = [
    ("call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs", {"city": "Edinburgh", "country": "GB", "units": "c"}),
    ("call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price", {"ticker": "AAPL", "exchange": "NASDAQ"}),
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "GetWeatherArgs",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "country": {"type": "string"},
                    "units": {"type": "string"},
                },
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_stock_price",
            "parameters": {
                "type": "object",
                "properties": {"ticker": {"type": "string"}, "exchange": {"type": "string"}},
            },
        },
    },
]


def cost(prompt: int, completion: int) -> float:
    return (prompt * 0.15 + completion * 0.60) / 1e6  # gpt-4o-mini, USD per 1M tokens


class Ids:
    """The `helicone-id` of every response the client received, in order."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def hook(self, response: httpx.Response) -> None:
        self.ids.append(response.headers.get("helicone-id", ""))

    async def ahook(self, response: httpx.Response) -> None:
        self.hook(response)

    @property
    def last(self) -> str:
        assert self.ids and self.ids[-1], "no helicone-id header on the gateway's response"
        return self.ids[-1]


@pytest.fixture
def session_headers():
    return {
        "Helicone-Session-Id": f"demo-session-{uuid.uuid4()}",
        "Helicone-User-Id": "user-123",
        "Helicone-Property-Environment": "production",
    }


@pytest.fixture
def make_llm(gateway, monkeypatch, session_headers):
    # llama-index-llms-helicone passes api_key only as a header; the OpenAI client still needs some key.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy-not-a-gateway-key")
    monkeypatch.delenv("HELICONE_API_BASE", raising=False)
    clients: list[httpx.Client | httpx.AsyncClient] = []

    def make(ids: Ids, api_key: str | None = None, **kwargs) -> helicone.Helicone:
        sync = httpx.Client(event_hooks={"response": [ids.hook]})
        asynchronous = httpx.AsyncClient(event_hooks={"response": [ids.ahook]})
        clients.extend((sync, asynchronous))
        kwargs.setdefault("default_headers", dict(session_headers))
        return helicone.Helicone(
            api_base=gateway.url + "/v1",
            api_key=api_key or gateway.key,
            model="gpt-4o-mini",
            max_retries=0,
            http_client=sync,
            async_http_client=asynchronous,
            **kwargs,
        )

    yield make
    for c in clients:
        if isinstance(c, httpx.Client):
            c.close()


def check_attribution(row, session_headers) -> None:
    assert row["request_user_id"] == "user-123"
    assert row["session_id"] == session_headers["Helicone-Session-Id"]
    assert row["request_properties"]["environment"] == "production"


def new_requests(upstream, before: int):
    return upstream.seen[before:]


# -- is_chat_model=True: /v1/chat/completions ---------------------------------------------------------


def test_chat(make_llm, gateway, upstream, session_headers):
    ids = Ids()
    llm = make_llm(ids, is_chat_model=True, temperature=0.2, max_tokens=256)
    before = len(upstream.seen)
    response = llm.chat(messages=[llms.ChatMessage(role="user", content="Tell me a joke")])

    assert response.message.content == ANSWER
    assert str(response) == f"assistant: {ANSWER}"
    assert response.raw.choices[0].finish_reason == "stop"
    assert response.additional_kwargs == {"prompt_tokens": 14, "completion_tokens": 37, "total_tokens": 51}

    sent = new_requests(upstream, before)
    assert [s.path for s in sent] == ["/v1/chat/completions"]
    assert sent[0].body["messages"] == [{"role": "user", "content": "Tell me a joke"}]
    assert (sent[0].body["model"], sent[0].body["max_tokens"], sent[0].body["temperature"]) == (
        "gpt-4o-mini",
        256,
        0.2,
    )
    assert sent[0].headers["authorization"] == "Bearer sk-upstream-openai-secret-0001"
    assert not any(k.startswith("helicone-") for k in sent[0].headers)

    row = gateway.wait_row(ids.last)
    assert row["response_status"] == 200
    assert row["request_path"] == "/v1/chat/completions"
    assert row["stream"] is False
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 37, 51)
    assert row["costUSD"] == pytest.approx(cost(14, 37))
    assert row["costUSD"] > 0
    check_attribution(row, session_headers)
    assert row["request_properties"]["helicone-session-id"] == session_headers["Helicone-Session-Id"]


def test_stream_chat(make_llm, gateway, session_headers):
    ids = Ids()
    llm = make_llm(ids, is_chat_model=True)
    deltas = []
    last = None
    for r in llm.stream_chat([llms.ChatMessage(role="user", content="Tell me a story in 200 words")]):
        deltas.append(r.delta or "")
        last = r
    assert "".join(deltas) == STREAM_ANSWER
    assert last.message.content == STREAM_ANSWER
    assert len(deltas) > 10  # really streamed, not one blob

    row = gateway.wait_row(ids.last)
    assert row["response_status"] == 200
    assert row["stream"] is True
    # LlamaIndex does not ask for usage in streams; the gateway still logs it
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 30, 44)
    assert row["costUSD"] == pytest.approx(cost(14, 30))
    assert row["response_body"]["choices"][0]["message"]["content"] == STREAM_ANSWER
    assert row["response_body"]["choices"][0]["finish_reason"] == "stop"
    check_attribution(row, session_headers)


def test_chat_with_parallel_tool_calls(make_llm, gateway):
    ids = Ids()
    llm = make_llm(ids, is_chat_model=True)
    response = llm.chat(
        [llms.ChatMessage(role="user", content="Weather in Edinburgh and the AAPL price? [[tools]]")],
        tools=TOOLS,
    )
    calls = response.message.additional_kwargs["tool_calls"]
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        (t["id"], t["function"]["name"], json.loads(t["function"]["arguments"])) for t in TOOL_CALLS
    ]
    assert response.raw.choices[0].finish_reason == "tool_calls"
    row = gateway.wait_row(ids.last)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (149, 60)
    assert row["costUSD"] == pytest.approx(cost(149, 60))
    assert [t["function"]["name"] for t in row["request_body"]["tools"]] == [
        "GetWeatherArgs",
        "get_stock_price",
    ]


def test_stream_chat_with_parallel_tool_calls(make_llm, gateway):
    ids = Ids()
    llm = make_llm(ids, is_chat_model=True)
    responses = list(
        llm.stream_chat([llms.ChatMessage(role="user", content="Weather and stocks [[tools]]")], tools=TOOLS)
    )
    last = responses[-1]
    calls = last.message.additional_kwargs["tool_calls"]
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == STREAM_TOOL_CALLS
    row = gateway.wait_row(ids.last)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (149, 60)
    logged = row["response_body"]["choices"][0]
    assert logged["finish_reason"] == "tool_calls"
    assert [
        (t["id"], t["function"]["name"], json.loads(t["function"]["arguments"]))
        for t in logged["message"]["tool_calls"]
    ] == STREAM_TOOL_CALLS


async def test_async_stream_chat(make_llm, gateway, session_headers):
    ids = Ids()
    llm = make_llm(ids, is_chat_model=True)
    text = ""
    async for r in await llm.astream_chat([llms.ChatMessage(role="user", content="Tell me a story")]):
        text += r.delta or ""
    assert text == STREAM_ANSWER
    row = gateway.wait_row(ids.last)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (14, 30)
    check_attribution(row, session_headers)


# -- is_chat_model=False: /v1/completions, which the gateway serves with the chat-only model -----------


def test_complete_maps_to_chat_for_a_chat_only_model(make_llm, gateway, upstream, session_headers):
    ids = Ids()
    llm = make_llm(ids, is_chat_model=False)
    before = len(upstream.seen)
    response = llm.complete("Once upon a time")

    assert response.text == ANSWER
    assert response.raw.object == "text_completion"
    assert response.raw.choices[0].finish_reason == "stop"
    assert response.additional_kwargs == {"prompt_tokens": 14, "completion_tokens": 37, "total_tokens": 51}

    sent = new_requests(upstream, before)
    assert [s.path for s in sent] == ["/v1/chat/completions"]  # gpt-4o-mini has no legacy completions
    assert sent[0].body["messages"] == [{"role": "user", "content": "Once upon a time"}]
    assert "prompt" not in sent[0].body

    row = gateway.wait_row(ids.last)
    assert row["response_status"] == 200
    assert row["request_path"] == "/v1/completions"
    assert row["request_body"]["prompt"] == "Once upon a time"
    assert row["response_body"]["object"] == "text_completion"
    assert row["response_body"]["choices"][0]["text"] == ANSWER
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 37, 51)
    assert row["costUSD"] == pytest.approx(cost(14, 37))
    check_attribution(row, session_headers)


def test_stream_complete(make_llm, gateway, session_headers):
    ids = Ids()
    llm = make_llm(ids, is_chat_model=False)
    deltas = [r.delta or "" for r in llm.stream_complete("Once upon a time")]
    assert "".join(deltas) == STREAM_ANSWER
    assert len(deltas) > 10

    row = gateway.wait_row(ids.last)
    assert row["request_path"] == "/v1/completions"
    assert row["stream"] is True
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 30, 44)
    assert row["costUSD"] == pytest.approx(cost(14, 30))
    assert row["response_body"]["object"] == "text_completion"
    assert row["response_body"]["choices"][0]["text"] == STREAM_ANSWER
    check_attribution(row, session_headers)


def test_seed_chat_example_without_is_chat_model(make_llm, gateway, upstream):
    """The seed's first example (`Helicone(api_key=..., model="gpt-4o-mini", max_tokens=256)`, then `chat`):
    is_chat_model defaults to False, so LlamaIndex sends a flattened prompt to /v1/completions."""
    ids = Ids()
    llm = make_llm(ids, max_tokens=256, default_headers=None)
    assert llm.metadata.is_chat_model is False
    before = len(upstream.seen)
    response = llm.chat([llms.ChatMessage(role="user", content="Tell me a joke")])
    assert response.message.content == ANSWER
    assert "Tell me a joke" in new_requests(upstream, before)[0].body["messages"][0]["content"]
    row = gateway.wait_row(ids.last)
    assert row["request_path"] == "/v1/completions"
    assert row["request_body"]["max_tokens"] == 256
    assert (row["prompt_tokens"], row["completion_tokens"]) == (14, 37)
    assert row["request_user_id"] is None and row["session_id"] is None  # no headers given

    text = "".join(
        r.delta or ""
        for r in llm.stream_chat([llms.ChatMessage(role="user", content="Tell me a story in 200 words")])
    )
    assert text == STREAM_ANSWER
    assert gateway.wait_row(ids.last)["stream"] is True


def test_wrong_key_is_an_authentication_error(make_llm, gateway):
    ids = Ids()
    llm = make_llm(ids, api_key="sk-not-a-gateway-key", is_chat_model=True)
    with pytest.raises(openai.AuthenticationError) as info:
        llm.chat([llms.ChatMessage(role="user", content="hi")])
    assert info.value.status_code == 401
    assert "Invalid gateway key" in info.value.message
