"""A request offering a protocol upgrade is served as plain HTTP/1.1 by a real `switchyard serve`: the real
`curl --http2` (which offers h2c on an http:// URL: `Connection: Upgrade, HTTP2-Settings`, `Upgrade: h2c`) and raw
sockets. Before the fix the body was dropped (400 "body is empty") and a request inside a body arriving later was
served. The edges in process: tests/unit/test_server_upgrade.py; the choice: docs/security.md."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httptools
import orjson
import pytest

from support.gateway import GatewayProcess, default_config, free_port

CURL = shutil.which("curl")
MAX_BODY = 64 * 1024
BODY_TIMEOUT = 2.0
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
H2C = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    server = {"max_body_bytes": MAX_BODY, "body_timeout_seconds": BODY_TIMEOUT}
    g = GatewayProcess(
        tmp_path_factory.mktemp("upgrade"), default_config(upstream.url, free_port(), server=server)
    )
    g.prepare()
    g.start()
    yield g
    g.stop()


class Responses:
    def __init__(self, raw: bytes) -> None:
        self.all: list[dict[str, Any]] = []
        self.parser = httptools.HttpResponseParser(self)
        self.parser.feed_data(raw)

    def on_message_begin(self) -> None:
        self.all.append({"headers": {}, "body": b""})

    def on_header(self, name: bytes, value: bytes) -> None:
        self.all[-1]["headers"][name.decode().lower()] = value.decode()

    def on_headers_complete(self) -> None:
        self.all[-1]["status"] = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.all[-1]["body"] += body


def exchange(
    gw: GatewayProcess, *packets: bytes, gap: float = 0.2, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Sends the packets `gap` apart, then reads until the gateway closes the connection: every response."""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, packet in enumerate(packets):
            if i:
                time.sleep(gap)
            s.sendall(packet)
        raw = b""
        while chunk := s.recv(65536):  # a timeout here (the connection left open) fails the test
            raw += chunk
    return Responses(raw).all


def upgrade_post(
    gw: GatewayProcess, framing: str, path: str = "/v1/chat/completions", upgrade: str = H2C
) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {gw.key}\r\n"
        f"Content-Type: application/json\r\n{upgrade}{framing}\r\n"
    ).encode()


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_curl_http2_on_plain_http_gets_the_completion(gw, chunked):
    args = [CURL, "-sS", "-v", "--http2", "-m", "20", "-o", "-", "-w", "\n%{http_code} %{http_version}"]
    args += ["-H", f"Authorization: Bearer {gw.key}", "-H", "Content-Type: application/json"]
    if chunked:
        args += ["-H", "Transfer-Encoding: chunked"]
    args += ["--data-binary", orjson.dumps(CHAT).decode(), gw.url + "/v1/chat/completions"]
    proc = subprocess.run(args, capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr.decode()
    sent = proc.stderr.decode()
    assert "> Upgrade: h2c" in sent  # the request took the upgrade path
    assert ("> Transfer-Encoding: chunked" in sent) == chunked
    body, status = proc.stdout.rsplit(b"\n", 1)
    assert status == b"200 1.1", (status, body)  # no 101: answered as HTTP/1.1
    answer = orjson.loads(body)
    assert answer["object"] == "chat.completion" and answer["choices"][0]["message"]["content"]


def test_a_request_hidden_in_a_later_packet_of_the_body_is_body_not_a_request(gw):
    hidden = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    responses = exchange(gw, upgrade_post(gw, f"Content-Length: {len(hidden)}\r\n"), hidden)
    assert [r["status"] for r in responses] == [400], responses  # one answer: the body is not JSON
    assert b"empty" not in responses[0]["body"] and responses[0]["headers"]["connection"] == "close"


def test_a_request_pipelined_after_an_upgrade_request_is_not_served_and_the_connection_closes(gw):
    body = orjson.dumps(CHAT)
    after = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    responses = exchange(gw, upgrade_post(gw, f"Content-Length: {len(body)}\r\n") + body + after)
    assert [r["status"] for r in responses] == [200], responses
    assert orjson.loads(responses[0]["body"])["object"] == "chat.completion"
    assert responses[0]["headers"]["connection"] == "close"


def test_a_chunked_upgrade_body_over_the_limit_is_413(gw):
    chunk = b"a" * 16384
    frames = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_BODY // len(chunk) + 1))
    responses = exchange(gw, upgrade_post(gw, "Transfer-Encoding: chunked\r\n"), frames + b"0\r\n\r\n")
    assert [r["status"] for r in responses] == [413], responses


def test_a_declared_upgrade_body_over_the_limit_is_413_before_it_is_read(gw):
    responses = exchange(gw, upgrade_post(gw, f"Content-Length: {10 * MAX_BODY}\r\n"))
    assert [r["status"] for r in responses] == [413], responses


def test_a_slow_upgrade_body_is_408_after_the_deadline(gw):
    t0 = time.monotonic()
    responses = exchange(gw, upgrade_post(gw, "Content-Length: 100\r\n") + b'{"model":')
    elapsed = time.monotonic() - t0
    assert [r["status"] for r in responses] == [408], responses
    assert BODY_TIMEOUT - 0.5 <= elapsed < BODY_TIMEOUT + 5, elapsed


def test_a_websocket_upgrade_gets_an_ordinary_http_answer_at_once(gw):
    request = (
        "GET /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    t0 = time.monotonic()
    responses = exchange(gw, request.encode(), timeout=5)
    # never a 101, never a hang
    assert len(responses) == 1 and responses[0]["status"] in (404, 405), responses
    assert responses[0]["headers"]["connection"] == "close" and time.monotonic() - t0 < 3
