"""LiteLLM's `helicone/` route (the examples of its Helicone provider page) against a real gateway process.

What LiteLLM 1.106 actually does on this route (read from litellm/llms/openai_like/providers.json +
dynamic_config.py and observed on the wire):
- it is a JSON-configured OpenAI-compatible provider: the OpenAI Python SDK posts to
  `{api_base}/chat/completions` with `Authorization: Bearer <api_key or HELICONE_API_KEY>`, so `api_base`
  works both with and without `/v1` (and with a trailing slash);
- `metadata={...}` (the page's way to pass Helicone-* headers) is NOT sent: neither as headers nor in the
  body. Headers only arrive through `extra_headers=` / `headers=`;
- `completion(prompt=...)` (the page's "Text Completion" example) sends `{"messages": [], "prompt": ...}` to
  /chat/completions; `litellm.text_completion(prompt=...)` turns the prompt into a user message instead.
"""

from __future__ import annotations

import os
import uuid

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of the cost map on import

import pytest

from support.deferred_import import deferred
from support.wire import chat_stream_text, exchange

litellm = deferred("litellm")  # imported when a test here runs (~2 s), not in every xdist worker's collection

ANSWER = exchange("openai/chat_completion.json")["response"]["body"]["choices"][0]["message"]["content"]


STREAM_ANSWER = chat_stream_text("openai/chat_completion_stream_usage.sse")
GPT_4O_MINI = (0.15, 0.60)  # USD per 1M tokens, input/output
GPT_4O = (2.50, 10.00)


def cost(prompt: int, completion: int, price: tuple[float, float]) -> float:
    return (prompt * price[0] + completion * price[1]) / 1e6


@pytest.fixture(autouse=True)
def quiet_litellm():
    """No telemetry, no callbacks, no feedback banners; restore LiteLLM's globals afterwards."""
    quiet = {
        "telemetry": False,
        "suppress_debug_info": True,
        "callbacks": [],
        "success_callback": [],
        "failure_callback": [],
    }
    saved = {name: getattr(litellm, name) for name in quiet if hasattr(litellm, name)}
    for name in saved:
        setattr(litellm, name, quiet[name])
    yield
    for name, value in saved.items():
        setattr(litellm, name, value)


def helicone_id(response) -> str:
    """The gateway's `helicone-id` response header, as LiteLLM exposes upstream headers."""
    return response._hidden_params["additional_headers"]["llm_provider-helicone-id"]


def new_requests(upstream, before: int):
    return upstream.seen[before:]


# -- non-stream ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/v1", "", "/"], ids=["with-v1", "root", "root-slash"])
def test_completion_answer_usage_and_log_row(gateway, upstream, suffix):
    before = len(upstream.seen)
    response = litellm.completion(
        model="helicone/gpt-4o-mini",
        api_base=gateway.url + suffix,
        api_key=gateway.key,
        messages=[{"content": "What is the capital of France?", "role": "user"}],
    )
    assert response.choices[0].message.content == ANSWER
    assert response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (
        14,
        37,
        51,
    )

    sent = new_requests(upstream, before)
    assert len(sent) == 1
    assert sent[0].path == "/v1/chat/completions"
    assert sent[0].body["model"] == "gpt-4o-mini"  # "helicone/" is LiteLLM's prefix, never the gateway's
    assert sent[0].body["messages"] == [{"content": "What is the capital of France?", "role": "user"}]

    row = gateway.wait_row(helicone_id(response))
    assert row["response_status"] == 200
    assert row["request_path"] == ("/v1/chat/completions" if suffix == "/v1" else "/chat/completions")
    assert row["provider"] == "openai"
    assert row["request_model"] == "gpt-4o-mini"
    assert row["stream"] is False
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 37, 51)
    assert row["costUSD"] == pytest.approx(cost(14, 37, GPT_4O_MINI))


def test_api_key_from_helicone_api_key_env(gateway, monkeypatch):
    """The page's setup: only HELICONE_API_KEY in the environment, no api_key argument."""
    monkeypatch.setenv("HELICONE_API_KEY", gateway.key)
    response = litellm.completion(
        model="helicone/gpt-4o-mini",
        api_base=gateway.url,
        messages=[{"content": "What is the capital of France?", "role": "user"}],
    )
    assert response.choices[0].message.content == ANSWER
    assert gateway.wait_row(helicone_id(response))["response_status"] == 200


def test_wrong_key_is_an_authentication_error(gateway):
    with pytest.raises(litellm.AuthenticationError) as info:
        litellm.completion(
            model="helicone/gpt-4o-mini",
            api_base=gateway.url + "/v1",
            api_key="sk-not-a-gateway-key",
            messages=[{"role": "user", "content": "hi"}],
            num_retries=0,
        )
    assert info.value.status_code == 401
    assert "Invalid gateway key" in str(info.value)


def test_length_finish_reason_and_body_user(gateway):
    response = litellm.completion(
        model="helicone/gpt-4o-mini",
        api_base=gateway.url + "/v1",
        api_key=gateway.key,
        messages=[{"role": "user", "content": "Give me JSON [[length]]"}],
        max_tokens=1,
        user="end-user-9",
    )
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == '{"'
    row = gateway.wait_row(helicone_id(response))
    assert row["request_body"]["max_tokens"] == 1
    assert row["request_user_id"] == "end-user-9"  # OpenAI's `user` field is the fallback user id
    assert (row["prompt_tokens"], row["completion_tokens"]) == (79, 1)


def test_upstream_rate_limit_surfaces_as_rate_limit_error(gateway):
    with pytest.raises(litellm.RateLimitError) as info:
        litellm.completion(
            model="helicone/gpt-4o-mini",
            api_base=gateway.url + "/v1",
            api_key=gateway.key,
            messages=[{"role": "user", "content": "hi [[error:429]]"}],
            num_retries=0,
            max_retries=0,
        )
    assert info.value.status_code == 429


# -- metadata vs headers ------------------------------------------------------------------------------


def test_metadata_from_the_docs_never_reaches_the_gateway(gateway, upstream):
    """LiteLLM's page says Helicone-* keys in `metadata` become Helicone headers; on this route they do not.

    This pins down what users get today (so that a LiteLLM change is noticed): nothing of `metadata`
    arrives, the log row has no properties, no user and no session."""
    before = len(upstream.seen)
    response = litellm.completion(
        model="helicone/gpt-4o-mini",
        api_base=gateway.url + "/v1",
        api_key=gateway.key,
        messages=[{"role": "user", "content": "What's the weather like?"}],
        metadata={
            "Helicone-Property-Environment": "production",
            "Helicone-User-Id": "user_123",
            "Helicone-Session-Id": "session_abc",
        },
    )
    assert response.choices[0].message.content == ANSWER
    row = gateway.wait_row(helicone_id(response))
    assert row["request_properties"] == {}
    assert row["request_user_id"] is None
    assert row["session_id"] is None
    assert "metadata" not in row["request_body"]
    sent = new_requests(upstream, before)[0]
    assert not any(k.startswith("helicone-") for k in sent.headers)


def test_extra_headers_carry_properties_user_and_session(gateway, upstream):
    before = len(upstream.seen)
    session = f"session-{uuid.uuid4()}"
    response = litellm.completion(
        model="helicone/gpt-4o-mini",
        api_base=gateway.url + "/v1",
        api_key=gateway.key,
        messages=[{"role": "user", "content": "What's the weather like?"}],
        extra_headers={
            "Helicone-Property-Environment": "production",
            "Helicone-Property-User-Id": "user_123",
            "Helicone-User-Id": "user_123",
            "Helicone-Session-Id": session,
            "Helicone-Session-Path": "/weather",
            "Helicone-Session-Name": "forecast",
        },
    )
    row = gateway.wait_row(helicone_id(response))
    assert row["request_user_id"] == "user_123"
    assert (row["session_id"], row["session_path"], row["session_name"]) == (session, "/weather", "forecast")
    assert row["request_properties"]["environment"] == "production"
    assert row["request_properties"]["user-id"] == "user_123"
    # Helicone-* headers are the gateway's own: they are not forwarded to the provider
    sent = new_requests(upstream, before)[0]
    assert not any(k.startswith("helicone-") for k in sent.headers)
    assert sent.headers["authorization"] == "Bearer sk-upstream-openai-secret-0001"


def test_headers_argument_sets_the_user(gateway):
    response = litellm.completion(
        model="helicone/gpt-4o-mini",
        api_base=gateway.url,
        api_key=gateway.key,
        messages=[{"role": "user", "content": "hi"}],
        headers={"Helicone-User-Id": "user-from-headers"},
    )
    assert gateway.wait_row(helicone_id(response))["request_user_id"] == "user-from-headers"


# -- stream -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/v1", ""], ids=["with-v1", "root"])
def test_stream_text_and_log_row(gateway, suffix):
    response = litellm.completion(
        model="helicone/gpt-4o-mini",
        api_base=gateway.url + suffix,
        api_key=gateway.key,
        messages=[{"content": "Write a short poem about AI", "role": "user"}],
        stream=True,
        extra_headers={
            "Helicone-Property-Environment": "production",
            "Helicone-User-Id": "poet-1",
            "Helicone-Session-Id": "poems",
        },
    )
    chunks = list(response)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == STREAM_ANSWER
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]

    row = gateway.wait_row(helicone_id(response))
    assert row["response_status"] == 200
    assert row["stream"] is True
    # the caller did not ask for usage; the gateway still knows it (it asks the provider itself)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 30, 44)
    assert row["costUSD"] == pytest.approx(cost(14, 30, GPT_4O_MINI))
    assert row["response_body"]["choices"][0]["message"]["content"] == STREAM_ANSWER
    assert row["request_user_id"] == "poet-1"
    assert row["session_id"] == "poems"
    assert row["request_properties"]["environment"] == "production"


def test_stream_with_include_usage_returns_usage(gateway):
    response = litellm.completion(
        model="helicone/gpt-4o-mini",
        api_base=gateway.url + "/v1",
        api_key=gateway.key,
        messages=[{"content": "Write a short poem about AI", "role": "user"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usages = [c.usage for c in response if getattr(c, "usage", None)]
    assert usages, "LiteLLM saw no usage chunk"
    assert (usages[-1].prompt_tokens, usages[-1].completion_tokens, usages[-1].total_tokens) == (14, 30, 44)
    row = gateway.wait_row(helicone_id(response))
    assert (row["prompt_tokens"], row["completion_tokens"]) == (14, 30)


def test_stream_upstream_error_before_first_byte(gateway):
    with pytest.raises(litellm.RateLimitError) as info:
        response = litellm.completion(
            model="helicone/gpt-4o-mini",
            api_base=gateway.url + "/v1",
            api_key=gateway.key,
            messages=[{"role": "user", "content": "hi [[error:429]]"}],
            stream=True,
            num_retries=0,
            max_retries=0,
        )
        list(response)
    assert info.value.status_code == 429


# -- fallback (the page's "Retry and Fallback" example) -----------------------------------------------


def test_fallback_model_string(gateway, upstream):
    """The page sets `litellm.api_base = "https://ai-gateway.helicone.ai/"`; LiteLLM 1.106 ignores that global on
    the helicone/ route (the provider's built-in base URL wins), so the base is passed per call here, keeping
    the page's trailing slash."""
    before = len(upstream.seen)
    response = litellm.completion(
        model="helicone/gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic",
        api_base=gateway.url + "/",
        api_key=gateway.key,
        messages=[{"role": "user", "content": "Hello"}],
    )
    assert response.choices[0].message.content == ANSWER
    sent = new_requests(upstream, before)
    assert [s.path for s in sent] == ["/v1/chat/completions"]  # the first choice answered: no fallback
    assert sent[0].body["model"] == "gpt-4o-mini"
    row = gateway.wait_row(helicone_id(response))
    assert row["request_model"] == "gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic"
    assert row["provider"] == "openai"
    assert [a["provider"] for a in row["attempts"]] == ["openai"]
    assert row["costUSD"] == pytest.approx(cost(14, 37, GPT_4O_MINI))


# -- text completion ----------------------------------------------------------------------------------


def test_text_completion(gateway, upstream):
    before = len(upstream.seen)
    response = litellm.text_completion(
        model="helicone/gpt-4o-mini", api_base=gateway.url, api_key=gateway.key, prompt="Once upon a time"
    )
    assert response.object == "text_completion"
    assert response.choices[0].text == ANSWER
    assert response.choices[0].finish_reason == "stop"
    sent = new_requests(upstream, before)[0]
    assert sent.body["messages"] == [{"role": "user", "content": "Once upon a time"}]
    row = gateway.wait_row(response._hidden_params["additional_headers"]["llm_provider-helicone-id"])
    assert (row["prompt_tokens"], row["completion_tokens"]) == (14, 37)
    assert row["costUSD"] == pytest.approx(cost(14, 37, GPT_4O_MINI))


def test_completion_with_prompt_as_on_the_litellm_page(gateway):
    response = litellm.completion(
        model="helicone/gpt-4o-mini", api_base=gateway.url, api_key=gateway.key, prompt="Once upon a time"
    )
    assert response.choices[0].message.content == ANSWER
