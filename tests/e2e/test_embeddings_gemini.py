"""Embeddings through a translated provider (Gemini batchEmbedContents), with the OpenAI SDK."""

from __future__ import annotations

import base64
import struct

import openai


def test_gemini_embeddings_float_and_base64(gateway, upstream):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    raw = client.embeddings.with_raw_response.create(
        model="gemini-embedding-001/google-ai-studio", input=["first", "second"], dimensions=64
    )
    res = raw.parse()
    assert [d.index for d in res.data] == [0, 1]
    assert all(len(d.embedding) == 64 for d in res.data)
    sent = upstream.last(":batchEmbedContents")
    assert sent.headers["x-goog-api-key"] == "AIzaUpstreamSecret0003xyz"
    assert [r["content"]["parts"][0]["text"] for r in sent.body["requests"]] == ["first", "second"]
    assert all(
        r["outputDimensionality"] == 64 and r["model"] == "models/gemini-embedding-001"
        for r in sent.body["requests"]
    )

    b64 = client.embeddings.create(
        model="gemini-embedding-001/google-ai-studio", input="first", dimensions=64, encoding_format="base64"
    )
    packed = base64.b64decode(b64.data[0].embedding)
    assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == res.data[0].embedding

    row = gateway.wait_row(raw.headers["helicone-id"])
    assert row["provider"] == "google-ai-studio" and row["response_status"] == 200
    assert row["response_body"]["data_count"] == 2  # vectors are not copied into the log
    assert row["costUSD"] is None  # Gemini reports no token counts: no cost is invented
