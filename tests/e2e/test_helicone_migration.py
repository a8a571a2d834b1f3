"""Moving from Helicone (issue 13): the names and headers Helicone users send, through a real gateway.

- `Helicone-Rate-Limit-Policy` (the hyphenated spelling of the LiteLLM seed) limits like `Helicone-RateLimit-Policy`;
- operator model aliases (`models.aliases`) route, chain and are listed by /v1/models.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.gateway import GatewayProcess, default_config, free_port

ALIASES = {"my-gpt": "gpt-4o-mini/openai", "my-chain": "no-such-model/openai, gpt-4o-mini/openai"}


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    g = GatewayProcess(
        tmp_path_factory.mktemp("gateway-migration"),
        default_config(upstream.url, free_port(), models={"aliases": ALIASES}),
    )
    g.prepare()
    g.start()
    yield g
    g.stop()


def chat(gw: GatewayProcess, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(
        gw.url + "/v1/chat/completions", json=payload, headers={**gw.headers(), **(headers or {})}, timeout=30
    )


def test_hyphenated_rate_limit_policy_limits_like_the_canonical_header(gw):
    for remaining in ("1", "0"):
        r = chat(gw, {"Helicone-Rate-Limit-Policy": "2;w=71"})
        assert r.status_code == 200, r.text
        assert r.headers["helicone-ratelimit-remaining"] == remaining
        assert r.headers["helicone-ratelimit-policy"] == "2;w=71;u=request"
    refused = chat(gw, {"Helicone-Rate-Limit-Policy": "2;w=71"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    # the same counter as the canonical spelling: both name one policy
    assert chat(gw, {"Helicone-RateLimit-Policy": "2;w=71"}).status_code == 429


def test_hyphenated_policy_is_validated_too(gw):
    r = chat(gw, {"Helicone-Rate-Limit-Policy": "lots"})
    assert r.status_code == 400
    assert "Helicone-RateLimit-Policy" in r.json()["error"]["message"]


def test_canonical_spelling_wins_when_both_are_sent(gw):
    r = chat(gw, {"Helicone-RateLimit-Policy": "5;w=72", "Helicone-Rate-Limit-Policy": "1;w=73"})
    assert r.status_code == 200
    assert r.headers["helicone-ratelimit-policy"] == "5;w=72;u=request"


def test_alias_routes_to_its_target_and_is_logged(gw):
    r = chat(gw, model="my-gpt")
    assert r.status_code == 200, r.text
    row = gw.wait_row(r.headers["helicone-id"])
    assert row["provider"] == "openai"
    assert [a["model"] for a in row["attempts"]] == ["gpt-4o-mini"]


def test_alias_to_a_chain_starts_with_its_first_item(gw):
    r = chat(gw, model="my-chain")
    assert r.status_code == 200, r.text
    row = gw.wait_row(r.headers["helicone-id"])
    # the mock answers any name; the chain's order (tests/unit/test_model_aliases.py) starts at its first item
    assert row["attempts"][0]["model"] == "no-such-model" and row["attempts"][-1]["status"] == 200


def test_aliases_are_listed_by_v1_models(gw):
    data = httpx.get(gw.url + "/v1/models", headers=gw.headers(), timeout=10).json()["data"]
    ids = {m["id"]: m for m in data}
    assert ids["my-gpt"]["owned_by"] == "switchyard" and "my-chain" in ids and "gpt-4o-mini" in ids
    one = httpx.get(gw.url + "/v1/models/my-gpt", headers=gw.headers(), timeout=10)
    assert one.status_code == 200 and one.json()["id"] == "my-gpt"
    anthropic = httpx.get(
        gw.url + "/v1/models?limit=1000", headers={"x-api-key": gw.key, "anthropic-version": "2023-06-01"}, timeout=10
    ).json()["data"]
    assert "my-gpt" in {m["id"] for m in anthropic}


def test_unknown_alias_like_name_is_still_model_not_found(gw):
    r = chat(gw, model="my-gpt-5")
    assert r.status_code == 400 and r.json()["error"]["code"] == "model_not_found"
