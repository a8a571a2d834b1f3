"""`POST /v1/messages/count_tokens` (issue 11 item 7) with the official `anthropic` SDK against a real gateway:
forwarded to Anthropic, Bedrock (CountTokens) and Vertex AI (count-tokens:rawPredict) for Claude models, with
the count the upstream gave; what the upstream refuses comes back as its 400; other models get a 400 that says
counting is only for Claude (never a made-up 0); every call is logged."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import anthropic
import httpx
import pytest

from support.count_tokens_upstream import expected_count
from support.gateway import GatewayProcess, default_config, free_port

MESSAGES = [{"role": "user", "content": "How many tokens is this, in Zürich?"}]
SYSTEM = "You are terse."
TOOLS = [
    {
        "name": "get_capital",
        "description": "The capital of a country",
        "input_schema": {"type": "object", "properties": {"country": {"type": "string"}}},
    }
]


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory) -> Iterator[GatewayProcess]:
    cfg = default_config(upstream.url, free_port())
    cfg["providers"]["bedrock"] = {
        "base_url": f"{upstream.url}/bedrock",
        "api_key": "AKIAUPSTREAMSECRET06",
        "config": {"secret": "bedrock-secret-key-0006", "region": "us-east-1"},
    }
    cfg["providers"]["vertex"] = {
        "base_url": f"{upstream.url}/vertex/v1/projects/{{project}}/locations/{{region}}",
        "api_key": "ya29.vertex-access-token-0005",
        "config": {"project": "proj-7", "region": "us-east5"},
    }
    g = GatewayProcess(tmp_path_factory.mktemp("count-tokens"), cfg)
    g.prepare()
    g.start()
    yield g
    g.stop()


@pytest.fixture
def client(gw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)


def test_count_tokens_on_anthropic(client, gw, upstream):
    raw = client.messages.with_raw_response.count_tokens(
        model="claude-sonnet-4", messages=MESSAGES, system=SYSTEM, tools=TOOLS
    )
    counted = raw.parse()
    sent = upstream.last("/messages/count_tokens")
    assert sent.path == "/anthropic/v1/messages/count_tokens"
    assert sent.body == {
        "model": "claude-sonnet-4-20250514",
        "messages": MESSAGES,
        "system": SYSTEM,
        "tools": TOOLS,
    }
    assert sent.headers["x-api-key"] == "sk-ant-upstream-secret-0002"
    assert counted.input_tokens == expected_count(sent.body) > 0
    row = gw.wait_row(raw.headers["helicone-id"])
    assert (row["provider"], row["response_status"]) == ("anthropic", 200)
    assert row["request_path"] == "/v1/messages/count_tokens"


def test_the_anthropic_beta_header_is_forwarded(client, upstream):
    client.beta.messages.count_tokens(
        model="claude-sonnet-4", messages=MESSAGES, betas=["context-1m-2025-08-07"]
    )
    assert "context-1m-2025-08-07" in upstream.last("/messages/count_tokens").headers["anthropic-beta"]


def test_what_anthropic_refuses_comes_back_as_its_400(gw):
    r = httpx.post(
        f"{gw.url}/v1/messages/count_tokens",
        timeout=10,
        headers={"x-api-key": gw.key, "anthropic-version": "2023-06-01"},
        json={"model": "claude-sonnet-4", "messages": MESSAGES, "max_tokens": 100},
    )
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "error" and "max_tokens" in r.json()["error"]["message"]


def test_count_tokens_on_bedrock(client, upstream):
    counted = client.messages.count_tokens(model="claude-sonnet-4/bedrock", messages=MESSAGES, system=SYSTEM)
    sent = upstream.last("/count-tokens")
    assert sent.path.startswith("/bedrock/model/") and sent.path.endswith("/count-tokens")
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 ")
    invoke = json.loads(base64.b64decode(sent.body["input"]["invokeModel"]["body"]))
    assert invoke["messages"] == MESSAGES and invoke["anthropic_version"] == "bedrock-2023-05-31"
    assert counted.input_tokens == expected_count(invoke)


def test_count_tokens_on_vertex(client, upstream):
    counted = client.messages.count_tokens(model="claude-sonnet-4/vertex", messages=MESSAGES)
    sent = upstream.last("count-tokens:rawPredict")
    assert (
        sent.path
        == "/vertex/v1/projects/proj-7/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict"
    )
    assert sent.body["model"] == "claude-sonnet-4@20250514" and sent.body["messages"] == MESSAGES
    assert sent.headers["authorization"] == "Bearer ya29.vertex-access-token-0005"
    assert counted.input_tokens == expected_count(sent.body)


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gemini-2.5-flash"])
def test_other_models_get_a_clear_400_never_a_zero(client, gw, model):
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.count_tokens(model=model, messages=MESSAGES)
    assert e.value.status_code == 400
    message = e.value.body["error"]["message"]
    assert "only available for Claude models" in message and model in message
    assert e.value.body["type"] == "error"


def test_a_fallback_chain_counts_on_its_claude_member(client, upstream):
    counted = client.messages.count_tokens(model="gpt-4o-mini,claude-sonnet-4/anthropic", messages=MESSAGES)
    assert counted.input_tokens == expected_count(upstream.last("/messages/count_tokens").body)


def test_without_a_key_it_is_401(gw):
    r = httpx.post(
        f"{gw.url}/v1/messages/count_tokens", json={"model": "claude-sonnet-4", "messages": MESSAGES}
    )
    assert r.status_code == 401 and r.json()["type"] == "error"


def test_langchain_get_num_tokens_from_messages(gw, upstream):
    from langchain_anthropic import ChatAnthropic
    from langchain_core.messages import HumanMessage, SystemMessage

    llm = ChatAnthropic(model="claude-sonnet-4", base_url=gw.url, api_key=gw.key, max_retries=0)
    n = llm.get_num_tokens_from_messages([SystemMessage(SYSTEM), HumanMessage(MESSAGES[0]["content"])])
    assert n == expected_count(upstream.last("/messages/count_tokens").body) > 0
