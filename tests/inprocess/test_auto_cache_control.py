"""Automatic prompt caching for Claude through the real app (providers.<id>.config.auto_cache_control): OpenAI and
Anthropic callers, streamed and not, to Anthropic and to Claude on Vertex. The upstream is the recorded provider
traffic, which refuses what Anthropic refuses (more than 4 breakpoints, one on a blank or thinking block:
tests/support/anthropic_rules.py), so a misplaced breakpoint fails the request here as it would in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from support.asgi_gateway import AsgiGateway, inprocess_config

CEP = {"type": "ephemeral"}
ON = {"auto_cache_control": True}
LONG_SYSTEM = "You answer in one word. " * 300


@pytest_asyncio.fixture(scope="module")
async def gw(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsgiGateway]:
    config = inprocess_config()
    config["providers"]["anthropic"]["config"] = ON
    config["providers"]["vertex"] = {
        "api_key": "ya29.vertex-access-token-0005",
        "config": {"project": "proj-7", "region": "us-east5", **ON},
    }
    config["providers"]["plain"] = {
        "format": "anthropic",
        "base_url": "https://plain.test/v1",
        "api_key": "k",
    }
    async with AsgiGateway(tmp_path_factory.mktemp("auto-cache"), config) as g:
        yield g


def last_sent(gw: AsgiGateway) -> dict[str, Any]:
    return gw.transport.sent[-1].body


def marked(body: dict[str, Any]) -> list[str]:
    out = []
    for i, m in enumerate(body["messages"]):
        for j, b in enumerate(m["content"] if isinstance(m["content"], list) else []):
            if b.get("cache_control"):
                out.append(f"{i}.{j}")
    system = body.get("system")
    out += [
        f"system.{j}"
        for j, b in enumerate(system if isinstance(system, list) else [])
        if b.get("cache_control")
    ]
    return out


CONVERSATION = [
    {"role": "system", "content": LONG_SYSTEM},
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": "Paris"},
    {"role": "user", "content": "And of Italy?"},
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["claude-sonnet-4/anthropic", "claude-sonnet-4/vertex"])
async def test_an_openai_caller_gets_one_breakpoint_on_the_last_message(gw, model, stream) -> None:
    r = await gw.post("/v1/chat/completions", {"model": model, "messages": CONVERSATION, "stream": stream})
    assert r.status_code == 200, r.text
    body = last_sent(gw)
    assert marked(body) == ["2.0"]
    assert body["messages"][2]["content"] == [{"type": "text", "text": "And of Italy?", "cache_control": CEP}]
    row = await gw.row(r.headers["helicone-id"])
    assert row["attempts"][-1]["adjustments"] == ["cache_control breakpoint added on messages[3]"]


@pytest.mark.parametrize("stream", [False, True])
async def test_an_anthropic_caller_without_breakpoints_gets_one(gw, stream) -> None:
    r = await gw.post(
        "/v1/messages",
        {
            "model": "claude-sonnet-4/anthropic",
            "max_tokens": 64,
            "system": LONG_SYSTEM,
            "messages": [{"role": "user", "content": "hi"}],
            "stream": stream,
        },
    )
    assert r.status_code == 200, r.text
    body = last_sent(gw)
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": CEP}]}
    ]
    assert body["system"] == LONG_SYSTEM  # untouched


async def test_the_callers_own_breakpoints_are_sent_as_they_are(gw) -> None:
    blocks = [{"type": "text", "text": f"document {i} " * 50, "cache_control": CEP} for i in range(4)]
    messages = [{"role": "user", "content": [*blocks, {"type": "text", "text": "Summarise."}]}]
    r = await gw.post(
        "/v1/messages", {"model": "claude-sonnet-4/anthropic", "max_tokens": 64, "messages": messages}
    )
    assert r.status_code == 200, r.text
    assert last_sent(gw)["messages"] == messages  # four, not five
    # five are refused by the upstream, as Anthropic does: the caller sees Anthropic's 400
    five = [{"role": "user", "content": [*blocks, {"type": "text", "text": "x", "cache_control": CEP}]}]
    r = await gw.post(
        "/v1/messages", {"model": "claude-sonnet-4/anthropic", "max_tokens": 64, "messages": five}
    )
    assert r.status_code == 400 and "A maximum of 4 blocks with cache_control" in r.text


async def test_providers_without_the_setting_and_other_models_are_untouched(gw) -> None:
    r = await gw.post(
        "/v1/chat/completions", {"model": "claude-sonnet-4-20250514/plain", "messages": CONVERSATION}
    )
    assert r.status_code == 200, r.text
    assert marked(last_sent(gw)) == []
    r = await gw.post("/v1/chat/completions", {"model": "gpt-4o-mini/openai", "messages": CONVERSATION})
    assert r.status_code == 200, r.text
    assert "cache_control" not in gw.transport.sent[-1].raw.decode()
