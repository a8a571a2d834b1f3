"""After a run with BYOK provider keys — successful calls, streams, and an upstream that quotes the key back in
its error — no key appears in any answer, log line, log row, admin response, metrics page, or the database file."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.mock_upstream import MockUpstream

ADMIN_KEY = "admin-secrets-test-000111222333444555"
# Deliberately not key-shaped (no sk- prefix): pattern-based redaction alone would miss it.
ECHOED = "q9ZxW4byokNOPREFIXsecret0123456789"
ANTHROPIC_SECRET = "sk-ant-byok-SECRET-c0ffee00112233"


class _Echo(BaseHTTPRequestHandler):
    """An upstream that rejects every key and quotes it back, as some providers do."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        got = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        body = json.dumps(
            {
                "error": {
                    "message": f"Incorrect API key provided: {got}. Check it.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
        ).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.fixture(scope="module")
def gw(upstream: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    g = GatewayProcess(
        tmp_path_factory.mktemp("secrets"),
        default_config(
            upstream.url,
            free_port(),
            admin={"key": ADMIN_KEY},
            security={"byok_endpoints": {"openai": ["http://127.0.0.1:*"]}},
        ),
    )
    g.prepare()
    g.start()
    yield g
    g.stop()


def test_no_provider_key_leaks_anywhere(gw: GatewayProcess, upstream: MockUpstream, echo: str) -> None:
    seen: list[str] = []  # every text a caller or operator could read

    def admin(method: str, path: str, body: dict | None = None) -> httpx.Response:
        r = httpx.request(
            method,
            f"{gw.url}/admin/v1{path}",
            json=body,
            timeout=10,
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        seen.append(r.text)
        assert r.status_code < 300, r.text
        return r

    admin("POST", "/orgs", {"name": "secretive"})
    created = admin("POST", "/orgs/secretive/keys", {"name": "app"}).json()
    key = created["key"]
    admin(
        "POST",
        "/orgs/secretive/provider-keys",
        {"provider": "openai", "key": ECHOED, "id": "echo", "config": {"base_url": echo}},
    )
    admin(
        "POST",
        "/orgs/secretive/provider-keys",
        {
            "provider": "anthropic",
            "key": ANTHROPIC_SECRET,
            "id": "ant",
            "config": {"base_url": f"{upstream.url}/anthropic/v1"},
        },
    )
    admin("GET", "/orgs/secretive/provider-keys")
    admin("GET", "/orgs/secretive/provider-keys/echo")
    admin("PATCH", "/orgs/secretive/provider-keys/ant", {"enabled": True})

    headers = {"Authorization": f"Bearer {key}"}
    ids = []

    def call(model: str, stream: bool = False) -> httpx.Response:
        rid = str(uuid.uuid4())
        ids.append(rid)
        r = httpx.post(
            f"{gw.url}/v1/chat/completions",
            timeout=30,
            headers={**headers, "Helicone-Request-Id": rid},
            json={"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]},
        )
        seen.append(r.text)
        seen.append(json.dumps(dict(r.headers)))
        return r

    ok = call("claude-sonnet-4/anthropic/ant")
    assert ok.status_code == 200, ok.text
    assert (
        upstream.last("/anthropic/v1/messages").headers["x-api-key"] == ANTHROPIC_SECRET
    )  # the org's key was used
    assert call("claude-sonnet-4/anthropic/ant", stream=True).status_code == 200
    bad = call("gpt-4o-mini/openai/echo")
    assert bad.status_code == 401 and "[redacted]" in bad.json()["error"]["message"]
    bad_stream = call("gpt-4o-mini/openai/echo", stream=True)
    assert bad_stream.status_code == 401
    chain = call(
        "gpt-4o-mini/openai/echo,claude-sonnet-4/anthropic/ant"
    )  # the echoed error lands in the attempts
    assert chain.status_code == 200

    for rid in ids:
        seen.append(json.dumps(gw.wait_row(rid, key=key)))
    seen.append(json.dumps(gw.query({"filter": "all", "limit": 100}, key=key)))
    seen.append(httpx.get(f"{gw.url}/metrics", timeout=10).text)
    seen.append(admin("GET", "/health").text)
    gw.stop()  # flush everything to disk before reading the files
    seen.append(gw.log_path.read_text())
    database = (gw.home / "switchyard.db").read_bytes() + b"".join(
        p.read_bytes() for p in gw.home.glob("switchyard.db-*")
    )

    for secret in (ECHOED, ANTHROPIC_SECRET):
        for text in seen:
            assert secret not in text, f"secret found in: {text[:300]}"
        assert secret.encode() not in database  # encrypted at rest
    gw.start()  # the module fixture stops it again
