"""Model strings from the seeds, end to end against the mock upstream (tests/support/mock_upstream.py).

Helicone's provider-routing page chains `gpt-4o/openai,gpt-4o/azure,gpt-4o/deepinfra` ("Try OpenAI, fallback to
Azure, then DeepInfra"). Here OpenAI and Azure point at ports where nothing listens, so both attempts fail to
connect and DeepInfra answers. DeepInfra hosts open-weight models only and no source lists gpt-4o there, so the
name goes upstream verbatim, unpriced. The chat reference's `claude-3-opus-20240229` and LiteLLM's
`helicone/claude-3.5-haiku/anthropic` reach Anthropic under the right ids, priced.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.wire import exchange

ANSWER = exchange("openai/chat_completion.json")["response"]["body"]["choices"][0]["message"]["content"]


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory) -> Iterator[GatewayProcess]:
    cfg = default_config(upstream.url, free_port())
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the attempt fails to connect
    cfg["providers"]["openai"]["base_url"] = f"{down}/v1"
    cfg["providers"]["azure"] = {"base_url": down, "api_key": "azure-upstream-secret-0004"}
    cfg["providers"]["deepinfra"] = {
        "base_url": f"{upstream.url}/deepinfra/v1/openai",
        "api_key": "deepinfra-upstream-secret-0006",
    }
    g = GatewayProcess(tmp_path_factory.mktemp("helicone-model-strings"), cfg)
    g.prepare()
    g.start()
    yield g
    g.stop()


@pytest.fixture
def client(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, timeout=20)


def test_gpt_4o_falls_back_to_deepinfra(client, gw, upstream):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o/openai,gpt-4o/azure,gpt-4o/deepinfra", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().choices[0].message.content == ANSWER
    sent = upstream.last("/deepinfra/")
    assert sent.path == "/deepinfra/v1/openai/chat/completions"
    assert sent.body["model"] == "gpt-4o"
    assert sent.headers["authorization"] == "Bearer deepinfra-upstream-secret-0006"
    row = gw.wait_row(raw.headers["helicone-id"])
    assert row["provider"] == "deepinfra" and row["response_status"] == 200
    tried = row["attempts"]
    assert [(a["provider"], a["model"]) for a in tried] == [
        ("openai", "gpt-4o"),
        ("azure", "gpt-4o"),
        ("deepinfra", "gpt-4o"),
    ]
    assert tried[0]["error"] and tried[1]["error"] and tried[2]["status"] == 200
    assert not row["costUSD"]  # no price is known for gpt-4o on DeepInfra, and none is invented


def test_gpt_4o_chain_streams_from_deepinfra(client, upstream):
    chunks = client.chat.completions.create(
        model="gpt-4o/openai,gpt-4o/azure,gpt-4o/deepinfra",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert upstream.last("/deepinfra/").body["stream"] is True


@pytest.mark.parametrize(
    ("model", "upstream_id"),
    [
        ("claude-3-opus-20240229", "claude-3-opus-20240229"),
        ("helicone/claude-3.5-haiku/anthropic", "claude-3-5-haiku-20241022"),
    ],
)
def test_claude_names_from_the_seeds(client, gw, upstream, model, upstream_id):
    raw = client.chat.completions.with_raw_response.create(
        model=model, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().choices[0].message.content
    assert upstream.last("/anthropic/v1/messages").body["model"] == upstream_id
    row = gw.wait_row(raw.headers["helicone-id"])
    assert row["provider"] == "anthropic" and row["costUSD"] > 0
