"""The response cache on every caller surface, stream and non-stream, through the real app in process: the first
request is a MISS that reaches the provider, an identical second one a HIT that does not, with the same bytes
to the caller and a row that says it was a hit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from support.asgi_gateway import AsgiGateway

CACHE = {"Helicone-Cache-Enabled": "true"}


def bodies(text: str) -> dict[str, tuple[str, dict[str, Any]]]:
    user = [{"role": "user", "content": text}]
    return {
        "chat": ("/v1/chat/completions", {"model": "gpt-4o-mini/openai", "messages": user}),
        "completions": ("/v1/completions", {"model": "gpt-4o-mini/openai", "prompt": text, "max_tokens": 16}),
        "messages": (
            "/v1/messages",
            {"model": "claude-sonnet-4/anthropic", "max_tokens": 64, "messages": user},
        ),
        "responses": ("/v1/responses", {"model": "gpt-4o-mini/openai", "input": text}),
        "embeddings": ("/v1/embeddings", {"model": "text-embedding-3-small/openai", "input": text}),
    }


CASES = [(name, s) for name in bodies("") for s in (False, True) if not (s and name == "embeddings")]


@pytest.mark.parametrize(
    ("name", "streaming"), CASES, ids=[f"{n}-{'stream' if s else 'whole'}" for n, s in CASES]
)
async def test_miss_then_hit(gw: AsgiGateway, name: str, streaming: bool) -> None:
    path, body = bodies(f"cache me {uuid.uuid4().hex}")[name]
    if streaming:
        body["stream"] = True
    start = len(gw.transport.sent)
    first = await gw.post(path, body, **CACHE)
    assert first.status_code == 200, first.text
    assert first.headers["helicone-cache"] == "MISS"
    await asyncio.sleep(
        0.05
    )  # the entry is saved just after the answer (the caller never waits for the save)
    second = await gw.post(path, body, **CACHE)
    assert second.status_code == 200, second.text
    assert second.headers["helicone-cache"] == "HIT"
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]
    assert len(gw.transport.sent) - start == 1, "the hit must not reach the provider"
    miss_row, hit_row = (
        await gw.row(first.headers["helicone-id"]),
        await gw.row(second.headers["helicone-id"]),
    )
    assert (miss_row["cache_hit"], hit_row["cache_hit"]) == (False, True)
    assert hit_row["status"] == 200 and hit_row["stream"] == streaming and hit_row["path"] == path


async def test_another_organisation_gets_a_miss(gw: AsgiGateway) -> None:
    path, body = bodies(f"cache me {uuid.uuid4().hex}")["chat"]
    assert (await gw.post(path, body, **CACHE)).headers["helicone-cache"] == "MISS"
    other = await gw.new_key("another-org")
    r = await gw.post(path, body, key=other, **CACHE)
    assert r.status_code == 200 and r.headers["helicone-cache"] == "MISS"


async def test_the_same_body_in_other_bytes_is_the_same_entry(gw: AsgiGateway) -> None:
    """The key is the parsed body's canonical form (pipeline/caching.py), never the caller's bytes: key order,
    spacing and JSON escapes do not split entries; a different value does."""
    tag = uuid.uuid4().hex
    compact = b'{"model":"gpt-4o-mini/openai","messages":[{"role":"user","content":"caf\xc3\xa9 %s"}]}'
    spaced = (
        b'{ "messages" : [ { "content" : "caf\\u00e9 %s" , "role" : "user" } ] ,\n'
        b'  "model" : "gpt-4o-mini/openai" }\n'
    )

    async def post(raw: bytes) -> Any:
        headers = gw.headers(**{"Content-Type": "application/json", **CACHE})
        r = await gw.client.post("/v1/chat/completions", content=raw % tag.encode(), headers=headers)
        assert r.status_code == 200, r.text
        return r

    start = len(gw.transport.sent)
    first = await post(compact)
    assert first.headers["helicone-cache"] == "MISS"
    await asyncio.sleep(0.05)  # the save is scheduled after the answer
    second = await post(spaced)
    assert second.headers["helicone-cache"] == "HIT" and second.content == first.content
    assert len(gw.transport.sent) - start == 1
    other = await post(compact.replace(b"caf\xc3\xa9", b"cafe"))
    assert other.headers["helicone-cache"] == "MISS"
