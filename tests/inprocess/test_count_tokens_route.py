"""`POST /v1/messages/count_tokens` through the real app in process: what its callers see (answers and errors in
Anthropic's shape, the log row, the request id) and what the route deliberately does not do (rate limits, budgets,
the response cache and the token-limit handler never apply to a count), plus what it shares with every proxied
request since it goes through `pipeline/handle.py` (routing options, outcome headers, the caller's own key)."""

from __future__ import annotations

import gzip
import uuid
from typing import Any

import orjson
import pytest

from support.asgi_gateway import ANTHROPIC_KEY, AsgiGateway
from support.count_tokens_upstream import expected_count

PATH = "/v1/messages/count_tokens"
MESSAGES = [{"role": "user", "content": "How many tokens is this?"}]
BODY = {"model": "claude-sonnet-4", "messages": MESSAGES}
# Bytes no serialiser would produce: the log keeps them as sent.
RAW = (
    b'{ "messages" : [{"content": "How many tokens is this?", "role": "user"}],\n "model":"claude-sonnet-4" }'
)


async def _count(gw: AsgiGateway, body: Any = BODY, key: str | None = None, **headers: str) -> Any:
    return await gw.post(PATH, body, key=key, **headers)


def _anthropic_error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    payload = r.json()
    assert payload["type"] == "error" and isinstance(payload["error"]["message"], str), payload
    return payload["error"]


async def test_a_count_is_answered_and_logged_with_the_callers_bytes(gw: AsgiGateway) -> None:
    r = await gw.client.post(PATH, content=RAW, headers=gw.headers(**{"Content-Type": "application/json"}))
    assert r.status_code == 200, r.text
    sent = gw.transport.last("/messages/count_tokens")
    assert sent.url == "https://api.anthropic.com/v1/messages/count_tokens"
    assert sent.body == {"model": "claude-sonnet-4-20250514", "messages": MESSAGES}
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY
    assert r.json() == {"input_tokens": expected_count(sent.body)}
    row = await gw.row(r.headers["helicone-id"])
    assert (row["status"], row["provider"], row["path"]) == (200, "anthropic", PATH)
    assert row["request_body"] == RAW.decode()
    assert orjson.loads(row["response_body"]) == r.json()
    assert (row["stream"], row["cache_hit"], row["error"]) == (False, False, None)


async def test_a_gzip_body_is_inflated_before_it_is_counted(gw: AsgiGateway) -> None:
    headers = gw.headers(**{"Content-Type": "application/json", "Content-Encoding": "gzip"})
    r = await gw.client.post(PATH, content=gzip.compress(orjson.dumps(BODY)), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["input_tokens"] == expected_count(gw.transport.last("/messages/count_tokens").body)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{not json", 400, "not valid JSON"),
        ({"messages": MESSAGES}, 400, "'model'"),
        ({"model": "claude-sonnet-4"}, 400, "messages: Field required"),
        ({"model": "claude-sonnet-4", "messages": "hi"}, 400, "messages: Field required"),
        ({"model": "gpt-4o-mini", "messages": MESSAGES}, 400, "only available for Claude models"),
        ({**BODY, "max_tokens": 10}, 400, "max_tokens"),  # the upstream's own refusal, passed on
    ],
    ids=["bad-json", "no-model", "no-messages", "messages-not-a-list", "not-claude", "upstream-refusal"],
)
async def test_errors_are_anthropic_shaped_and_logged(
    gw: AsgiGateway, body: Any, status: int, says: str
) -> None:
    if isinstance(body, bytes):
        r = await gw.client.post(
            PATH, content=body, headers=gw.headers(**{"Content-Type": "application/json"})
        )
    else:
        r = await _count(gw, body)
    assert says in _anthropic_error(r, status)["message"]
    row = await gw.row(r.headers["helicone-id"])
    assert row["status"] == status and says in row["error"]


async def test_without_a_key_it_is_a_401_in_anthropic_shape(gw: AsgiGateway) -> None:
    r = await gw.client.post(PATH, json=BODY)
    _anthropic_error(r, 401)


async def test_a_bug_is_a_500_in_anthropic_shape_and_logged(gw: AsgiGateway, monkeypatch) -> None:
    assert gw.app.deps is not None
    provider = gw.app.deps.executor.providers["anthropic"]

    def broken(data: bytes, target: Any) -> int:
        raise RuntimeError("a bug while reading the count")

    monkeypatch.setattr(provider, "parse_count", broken)
    r = await _count(gw)
    error = _anthropic_error(r, 500)
    assert r.headers["helicone-id"] in error["message"]
    assert (await gw.row(r.headers["helicone-id"]))["status"] == 500


async def test_a_request_id_is_released_when_the_count_is_done(gw: AsgiGateway) -> None:
    rid = str(uuid.uuid4())
    for _ in range(2):  # the second would be a 409 if the first still held the id
        r = await _count(gw, **{"Helicone-Request-Id": rid})
        assert r.status_code == 200 and r.headers["helicone-id"] == rid


async def test_counting_is_neither_rate_limited_nor_charged_to_a_limit(gw: AsgiGateway) -> None:
    key = await gw.new_key(f"limits-{uuid.uuid4().hex[:8]}")
    one = {"Helicone-RateLimit-Policy": "1;w=60"}
    for _ in range(3):
        r = await _count(gw, key=key, **one)
        assert r.status_code == 200, r.text
        assert not any(h.startswith("helicone-ratelimit") for h in r.headers)
    # the quota of one request is still whole: counting used none of it
    chat = {"model": "gpt-4o-mini", "messages": MESSAGES}
    assert (await gw.post("/v1/chat/completions", chat, key=key, **one)).status_code == 200
    assert (await gw.post("/v1/chat/completions", chat, key=key, **one)).status_code == 429
    # a policy header that a chat request would refuse is not read at all
    assert (await _count(gw, key=key, **{"Helicone-RateLimit-Policy": "nonsense"})).status_code == 200


async def test_a_count_is_never_answered_from_the_response_cache(gw: AsgiGateway) -> None:
    before = len(gw.transport.sent)
    for _ in range(2):
        r = await _count(gw, **{"Helicone-Cache-Enabled": "true", "Helicone-Cache-Bucket-Max-Size": "99"})
        assert r.status_code == 200 and "helicone-cache" not in r.headers
    assert len(gw.transport.sent) - before == 2


async def test_the_token_limit_handler_never_changes_what_is_counted(gw: AsgiGateway) -> None:
    for handler in ("truncate", "no-such-handler"):
        r = await _count(gw, **{"Helicone-Token-Limit-Exception-Handler": handler})
        assert r.status_code == 200, r.text
        assert gw.transport.last("/messages/count_tokens").body["messages"] == MESSAGES
        assert "switchyard-request-rewritten-by" not in (await gw.row(r.headers["helicone-id"]))["properties"]


# -- what a count shares with every proxied request (pipeline/handle.py) ------------------------------------------


async def test_a_count_carries_the_outcome_headers_of_any_answer(gw: AsgiGateway) -> None:
    r = await _count(gw)
    assert r.status_code == 200
    assert r.headers["helicone-provider"] == "anthropic"
    assert float(r.headers["switchyard-overhead-ms"]) >= 0


async def test_the_callers_timeout_header_applies_to_the_count(gw: AsgiGateway) -> None:
    r = await _count(gw, **{"Switchyard-Timeout-Ms": "4321"})
    assert r.status_code == 200, r.text
    assert gw.transport.last("/messages/count_tokens").timeouts[2] == pytest.approx(4.321)
    bad = await _count(gw, **{"Switchyard-Timeout-Ms": "soon"})
    assert "Switchyard-Timeout-Ms" in _anthropic_error(bad, 400)["message"]


async def test_the_callers_own_provider_key_counts_when_the_organisation_allows_it(gw: AsgiGateway) -> None:
    """Helicone's proxy style (pipeline/caller_keys.py): the count goes where a message would, on the caller's key."""
    org = f"callers-{uuid.uuid4().hex[:8]}"
    key = await gw.new_key(org)
    await gw.store.update_org(gw._orgs[org], allow_caller_provider_keys=True)
    caller = "sk-ant-callers-own-key-0009"
    r = await gw.client.post(PATH, json=BODY, headers={"Helicone-Auth": f"Bearer {key}", "x-api-key": caller})
    assert r.status_code == 200, r.text
    assert gw.transport.last("/messages/count_tokens").headers["x-api-key"] == caller
