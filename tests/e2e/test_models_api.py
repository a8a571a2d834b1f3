"""GET /v1/models and /v1/models/{id} through the official SDKs: each client gets its own wire shape."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest


@pytest.fixture
def claude(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=gateway.key, base_url=gateway.url, max_retries=0)


def test_anthropic_sdk_lists_models_in_anthropics_shape(claude):
    page = claude.models.list(limit=5)
    assert len(page.data) == 5 and page.has_more
    for m in page.data:
        assert m.type == "model" and m.id and m.display_name and m.created_at is not None
    everything = list(claude.models.list(limit=7))  # the SDK follows has_more / last_id to the end
    ids = [m.id for m in everything]
    assert len(ids) == len(set(ids)) > 40
    assert "claude-sonnet-4" in ids and "gpt-4o-mini" in ids
    dates = [m.created_at for m in everything]
    assert dates == sorted(dates, reverse=True)  # newest first, as Anthropic lists them


def test_anthropic_sdk_retrieves_one_model(claude):
    m = claude.models.retrieve("claude-sonnet-4")
    assert m.id == "claude-sonnet-4" and m.type == "model" and "Claude" in m.display_name
    with pytest.raises(anthropic.NotFoundError) as exc:
        claude.models.retrieve("no-such-model")
    assert exc.value.body["error"]["type"] == "not_found_error"


def test_anthropic_cursor_pagination_backwards(gateway):
    h = {"x-api-key": gateway.key, "anthropic-version": "2023-06-01"}
    first = httpx.get(f"{gateway.url}/v1/models", params={"limit": 4}, headers=h).json()
    second = httpx.get(
        f"{gateway.url}/v1/models", params={"limit": 4, "after_id": first["last_id"]}, headers=h
    ).json()
    back = httpx.get(
        f"{gateway.url}/v1/models", params={"limit": 4, "before_id": second["first_id"]}, headers=h
    ).json()
    assert [m["id"] for m in back["data"]] == [m["id"] for m in first["data"]]
    assert back["has_more"] is False
    bad = httpx.get(f"{gateway.url}/v1/models", params={"limit": 0}, headers=h)
    assert bad.status_code == 400 and bad.json()["type"] == "error"


def test_openai_sdk_keeps_openais_shape(gateway):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    models = client.models.list()
    assert all(m.object == "model" and isinstance(m.created, int) for m in models.data)
    assert client.models.retrieve("gpt-4o-mini").owned_by == "openai"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
