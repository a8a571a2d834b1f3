"""The Helicone quickstart's cURL examples, run with the real `curl` binary against a real gateway process."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from support.wire import exchange

CURL = shutil.which("curl")
ANSWER = exchange("openai/chat_completion.json")["response"]["body"]["choices"][0]["message"]["content"]

pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed")


@dataclass
class CurlResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def curl(*args: str) -> CurlResult:
    """Run curl like a user would, plus -sS and a dump of the response head to stdout (-D -)."""
    assert CURL is not None
    proc = subprocess.run([CURL, "-sS", "-D", "-", "--noproxy", "*", *args], capture_output=True, timeout=60)
    assert proc.returncode == 0, f"curl failed ({proc.returncode}): {proc.stderr.decode()}"
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return CurlResult(status, headers, body)


def test_basic_request(gateway, upstream):
    before = len(upstream.seen)
    r = curl(
        f"{gateway.url}/v1/chat/completions",
        "-H",
        "Content-Type: application/json",
        "-H",
        f"Authorization: Bearer {gateway.key}",
        "-d",
        """{
"model": "gpt-4o-mini",
"messages": [
{"role": "user", "content": "What is the capital of France?"}
]
}""",
    )
    assert r.status == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": ANSWER, "refusal": None}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == 51
    assert r.headers["helicone-provider"] == "openai"

    sent = upstream.seen[before:]
    assert [s.path for s in sent] == ["/v1/chat/completions"]
    assert sent[0].body["messages"] == [{"role": "user", "content": "What is the capital of France?"}]

    row = gateway.wait_row(r.headers["helicone-id"])
    assert row["response_status"] == 200
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 37, 51)
    assert row["costUSD"] == pytest.approx((14 * 0.15 + 37 * 0.60) / 1e6)


def test_fallback_chain_succeeds_through_openai(gateway, upstream):
    """`gpt-4o/openai,gpt-4o/azure`: OpenAI answers, so Azure (no key in this configuration) is never needed."""
    before = len(upstream.seen)
    r = curl(
        f"{gateway.url}/v1/chat/completions",
        "-H",
        "Content-Type: application/json",
        "-H",
        f"Authorization: Bearer {gateway.key}",
        "-d",
        """{
"model": "gpt-4o/openai,gpt-4o/azure",
"messages": [
{"role": "user", "content": "Hello!"}
]
}""",
    )
    assert r.status == 200
    assert r.json()["choices"][0]["message"]["content"] == ANSWER
    assert r.headers["helicone-provider"] == "openai"
    sent = upstream.seen[before:]
    assert [(s.path, s.body["model"]) for s in sent] == [("/v1/chat/completions", "gpt-4o")]

    row = gateway.wait_row(r.headers["helicone-id"])
    assert row["request_model"] == "gpt-4o/openai,gpt-4o/azure"
    assert row["provider"] == "openai"
    assert [(a["provider"], a["model"], a["status"]) for a in row["attempts"]] == [("openai", "gpt-4o", 200)]
    # priced as gpt-4o (the model asked for), not gpt-4o-mini
    assert row["costUSD"] == pytest.approx((14 * 2.50 + 37 * 10.00) / 1e6)


def test_fallback_chain_when_openai_fails_and_azure_has_no_key(gateway, upstream):
    """The first choice fails with a 500 and the fallback has no key: the caller gets OpenAI's error, as an
    OpenAI-shaped error body, and the log row records the failed attempt."""
    before = len(upstream.seen)
    r = curl(
        f"{gateway.url}/v1/chat/completions",
        "-H",
        "Content-Type: application/json",
        "-H",
        f"Authorization: Bearer {gateway.key}",
        "-d",
        json.dumps(
            {
                "model": "gpt-4o/openai,gpt-4o/azure",
                "messages": [{"role": "user", "content": "Hello! [[500]]"}],
            }
        ),
    )
    assert r.status == 500
    err = r.json()["error"]
    assert err["message"] == "The server had an error while processing your request."
    assert err["type"] == "server_error"
    assert [s.path for s in upstream.seen[before:]] == ["/v1/chat/completions"]  # nothing was sent to Azure
    row = gateway.wait_row(r.headers["helicone-id"])
    assert row["response_status"] == 500
    assert [(a["provider"], a["status"]) for a in row["attempts"]] == [("openai", 500)]


def test_azure_alone_without_a_key_is_a_clear_400(gateway, upstream):
    before = len(upstream.seen)
    r = curl(
        f"{gateway.url}/v1/chat/completions",
        "-H",
        "Content-Type: application/json",
        "-H",
        f"Authorization: Bearer {gateway.key}",
        "-d",
        json.dumps({"model": "gpt-4o/azure", "messages": [{"role": "user", "content": "Hello!"}]}),
    )
    assert r.status == 400
    err = r.json()["error"]
    assert err["code"] == "provider_key_missing"
    assert err["param"] == "model"
    assert "AZURE_OPENAI_API_KEY" in err["message"]
    assert upstream.seen[before:] == []


def test_models_list(gateway):
    r = curl(f"{gateway.url}/v1/models", "-H", f"Authorization: Bearer {gateway.key}")
    assert r.status == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["object"] == "list"
    assert isinstance(body["data"], list) and body["data"]
    for m in body["data"]:
        assert set(m) == {"id", "object", "created", "owned_by"}
        assert m["object"] == "model"
        assert isinstance(m["id"], str) and m["id"]
        assert isinstance(m["created"], int) and m["created"] > 1_500_000_000
        assert isinstance(m["owned_by"], str) and m["owned_by"]
    by_id = {m["id"]: m for m in body["data"]}
    assert len(by_id) == len(body["data"])  # no duplicates
    assert by_id["gpt-4o-mini"]["owned_by"] == "openai"
    assert by_id["claude-sonnet-4"]["owned_by"] == "anthropic"  # the two models of the quickstart's sample


def test_missing_key_is_401(gateway):
    r = curl(
        f"{gateway.url}/v1/chat/completions",
        "-H",
        "Content-Type: application/json",
        "-d",
        json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}),
    )
    assert r.status == 401
    assert r.json()["error"]["type"] == "authentication_error"


def test_stream_with_curl(gateway):
    r = curl(
        "-N",
        f"{gateway.url}/v1/chat/completions",
        "-H",
        "Content-Type: application/json",
        "-H",
        f"Authorization: Bearer {gateway.key}",
        "-d",
        json.dumps(
            {
                "model": "gpt-4o-mini",
                "stream": True,
                "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "Tell me a story"}],
            }
        ),
    )
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [e for e in r.body.decode().split("\n\n") if e.strip()]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: ") :]) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 44
    row = gateway.wait_row(r.headers["helicone-id"])
    assert row["stream"] is True
    assert (row["prompt_tokens"], row["completion_tokens"]) == (14, 30)
