"""Per-model parameter rules and structured outputs through a real gateway, with the clients people use, against
mock upstreams that refuse what OpenAI and Anthropic refuse (tests/support/openai_rules.py, anthropic_rules.py):

- the Anthropic SDK on /v1/messages to gpt-5-mini: `max_tokens` becomes `max_completion_tokens`, temperature goes;
- LlamaIndex's Helicone LLM (temperature=0.1, max_tokens=256 by default) to an o-series model;
- `max_tokens` 128000 to Claude Sonnet 4 on the native Anthropic passthrough (and in a stream): clamped to 64000;
- `json_object` and `json_schema` to an older Claude (forced tool → JSON in `message.content`) and a newer one
  (native `output_config.format`);
each change visible on the log row (GET /v1/request/{id}: `attempts[].adjustments`).
"""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from support.deferred_import import deferred

# imported when a test here runs, not in every xdist worker's collection
llms = deferred("llama_index.core.llms")
helicone = deferred("llama_index.llms.helicone")

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}},
    "required": ["city", "temp_c"],
    "additionalProperties": False,
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "weather", "strict": True, "schema": SCHEMA}}


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "HELICONE_API_BASE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def claude_sdk(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=gateway.key, base_url=gateway.url, max_retries=0)


@pytest.fixture
def openai_sdk(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)


def adjustments(gateway, request_id: str) -> list[str]:
    row = gateway.wait_row(request_id)
    ok = [a for a in row["attempts"] if a.get("status") == 200]
    assert ok, row["attempts"]
    return ok[-1].get("adjustments") or []


def sent(upstream, before: int, fragment: str) -> dict:
    bodies = [s.body for s in upstream.seen[before:] if fragment in s.path]
    assert len(bodies) == 1, bodies
    return bodies[0]


# -- item 5: OpenAI reasoning models from any surface ----------------------------------------------------------


def test_anthropic_sdk_to_gpt_5_mini_gets_max_completion_tokens(claude_sdk, gateway, upstream):
    before = len(upstream.seen)
    raw = claude_sdk.messages.with_raw_response.create(
        model="gpt-5-mini",
        max_tokens=256,
        messages=[{"role": "user", "content": "Hi"}],
        extra_body={"temperature": 0.5},  # the Anthropic SDK 2.x no longer has a temperature argument
    )
    message = raw.parse()
    assert message.content[0].text
    body = sent(upstream, before, "/chat/completions")
    assert body["max_completion_tokens"] == 256 and "max_tokens" not in body and "temperature" not in body
    assert adjustments(gateway, raw.headers["helicone-id"]) == [
        "max_tokens→max_completion_tokens",
        "temperature dropped (temperature=0.5; the model takes only 1)",
    ]


def test_anthropic_sdk_stream_to_o4_mini(claude_sdk, gateway, upstream):
    before = len(upstream.seen)
    with claude_sdk.messages.stream(
        model="o4-mini", max_tokens=300, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        text = stream.get_final_text()
        request_id = stream.response.headers["helicone-id"]
    assert text
    body = sent(upstream, before, "/chat/completions")
    assert body["max_completion_tokens"] == 300 and "max_tokens" not in body
    assert adjustments(gateway, request_id) == ["max_tokens→max_completion_tokens"]


def test_llamaindex_helicone_defaults_to_an_o_series_model(gateway, upstream, monkeypatch):
    monkeypatch.setenv(
        "OPENAI_API_KEY", "sk-dummy-not-a-gateway-key"
    )  # the client wants one; the header wins
    ids: list[str] = []
    http = httpx.Client(event_hooks={"response": [lambda r: ids.append(r.headers.get("helicone-id", ""))]})
    # LlamaIndex adapts the models it recognises (o3-mini: max_completion_tokens, temperature 1); a Helicone model
    # string is not one of them, so its defaults (temperature=0.1, max_tokens=256) go out as they are
    llm = helicone.Helicone(
        api_base=gateway.url + "/v1",
        api_key=gateway.key,
        model="o4-mini/openai",
        is_chat_model=True,
        max_retries=0,
        http_client=http,
    )
    before = len(upstream.seen)
    try:
        response = llm.chat(messages=[llms.ChatMessage(role="user", content="Tell me a joke")])
    finally:
        http.close()
    assert response.message.content
    body = sent(upstream, before, "/chat/completions")
    assert body["max_completion_tokens"] == 256 and "max_tokens" not in body and "temperature" not in body
    assert adjustments(gateway, ids[-1]) == [
        "max_tokens→max_completion_tokens",
        "temperature dropped (temperature=0.1; the model takes only 1)",
    ]


def test_openai_sdk_temperature_to_claude_4_5_with_top_p(openai_sdk, gateway, upstream):
    before = len(upstream.seen)
    raw = openai_sdk.chat.completions.with_raw_response.create(
        model="claude-4.5-sonnet/anthropic",
        temperature=1.5,
        top_p=0.9,
        messages=[{"role": "user", "content": "Hi"}],
    )
    assert raw.parse().choices[0].message.content
    body = sent(upstream, before, "/anthropic/v1/messages")
    assert body["temperature"] == 1 and "top_p" not in body
    assert adjustments(gateway, raw.headers["helicone-id"]) == [
        "temperature 1.5→1 (range 0..1)",
        "top_p dropped (the model takes temperature or top_p, not both)",
    ]


# -- item 11: max_tokens above the model's ceiling -------------------------------------------------------------


def test_native_anthropic_max_tokens_clamped(claude_sdk, gateway, upstream):
    before = len(upstream.seen)
    raw = claude_sdk.messages.with_raw_response.create(
        model="claude-sonnet-4-20250514",
        max_tokens=128000,
        messages=[{"role": "user", "content": "Hi"}],
        timeout=30,  # an explicit timeout: the SDK otherwise wants a stream for this many tokens
    )
    assert raw.parse().content[0].text
    assert sent(upstream, before, "/anthropic/v1/messages")["max_tokens"] == 64000
    assert adjustments(gateway, raw.headers["helicone-id"]) == [
        "max_tokens clamped 128000→64000 (the model's maximum output)"
    ]


def test_native_anthropic_stream_max_tokens_clamped(claude_sdk, gateway, upstream):
    before = len(upstream.seen)
    with claude_sdk.messages.stream(
        model="claude-sonnet-4", max_tokens=128000, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        assert stream.get_final_text()
        request_id = stream.response.headers["helicone-id"]
    assert sent(upstream, before, "/anthropic/v1/messages")["max_tokens"] == 64000
    assert adjustments(gateway, request_id) == [
        "max_tokens clamped 128000→64000 (the model's maximum output)"
    ]


def test_openai_native_max_tokens_clamped(openai_sdk, gateway, upstream):
    before = len(upstream.seen)
    raw = openai_sdk.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", max_tokens=128000, messages=[{"role": "user", "content": "Hi"}]
    )
    assert raw.parse().choices[0].message.content
    assert sent(upstream, before, "/chat/completions")["max_tokens"] == 16384
    assert adjustments(gateway, raw.headers["helicone-id"]) == [
        "max_tokens clamped 128000→16384 (the model's maximum output)"
    ]


# -- item 6: structured outputs to Claude ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [{"type": "json_object"}, JSON_SCHEMA], ids=["json_object", "json_schema"])
def test_structured_output_to_an_older_claude_is_a_forced_tool(openai_sdk, gateway, upstream, fmt):
    before = len(upstream.seen)
    raw = openai_sdk.chat.completions.with_raw_response.create(
        model="claude-sonnet-4/anthropic",
        response_format=fmt,
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
    )
    message = raw.parse().choices[0].message
    answer = json.loads(message.content)
    assert isinstance(answer, dict) and not message.tool_calls
    body = sent(upstream, before, "/anthropic/v1/messages")
    assert body["tool_choice"] == {"type": "tool", "name": "switchyard_json_response"}
    assert "output_config" not in body
    if fmt is JSON_SCHEMA:
        assert set(answer) == {"city", "temp_c"}
        assert adjustments(gateway, raw.headers["helicone-id"]) == [
            "response_format json_schema → forced tool (no native structured outputs here)"
        ]
    else:
        assert adjustments(gateway, raw.headers["helicone-id"]) == [
            "response_format json_object → forced tool"
        ]


def test_json_schema_to_a_newer_claude_is_native(openai_sdk, gateway, upstream):
    before = len(upstream.seen)
    raw = openai_sdk.chat.completions.with_raw_response.create(
        model="claude-4.5-haiku/anthropic",
        response_format=JSON_SCHEMA,
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
    )
    assert set(json.loads(raw.parse().choices[0].message.content)) == {"city", "temp_c"}
    body = sent(upstream, before, "/anthropic/v1/messages")
    assert body["output_config"]["format"] == {"type": "json_schema", "schema": SCHEMA}
    assert "tools" not in body
    assert adjustments(gateway, raw.headers["helicone-id"]) == []


def test_json_object_to_a_newer_claude_is_still_a_forced_tool(openai_sdk, upstream):
    before = len(upstream.seen)
    r = openai_sdk.chat.completions.create(
        model="claude-4.5-haiku/anthropic",
        response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
    )
    assert json.loads(r.choices[0].message.content) == {"answer": "ok"}
    assert (
        sent(upstream, before, "/anthropic/v1/messages")["tool_choice"]["name"] == "switchyard_json_response"
    )


def test_responses_api_to_a_reasoning_model(openai_sdk, gateway, upstream):
    before = len(upstream.seen)
    raw = openai_sdk.responses.with_raw_response.create(
        model="gpt-5-mini", input="Hi", temperature=0.3, max_output_tokens=500000
    )
    assert raw.parse().output_text
    body = sent(upstream, before, "/responses")
    assert body["max_output_tokens"] == 128000 and "temperature" not in body
    assert adjustments(gateway, raw.headers["helicone-id"]) == [
        "temperature dropped (temperature=0.3; the model takes only 1)",
        "max_output_tokens clamped 500000→128000 (the model's maximum output)",
    ]
