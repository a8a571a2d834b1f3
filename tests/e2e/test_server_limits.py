"""Hostile callers cannot exhaust the gateway's memory or connections before authentication (real
`switchyard serve`, raw sockets): header-size cap (431), auth from the headers before the body (401), a
declared Content-Length over the limit (413), body and header deadlines (408), connection and in-flight caps
(503 + Retry-After) — and the process's memory stays bounded while 20 hostile connections are open and normal
traffic keeps being served."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from support.gateway import GatewayProcess, default_config, free_port

MIB = 1024 * 1024
BODY_TIMEOUT = 3.0
HEADER_TIMEOUT = 3.0
MAX_CONNECTIONS = 40
MAX_IN_FLIGHT = 8
ADMIN_KEY = "admin-limits-0123456789abcdef0123456789"
ROUTES = ["/v1/chat/completions", "/v1/messages", "/v1/request/query", "/admin/v1/orgs"]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    server = {
        "max_body_bytes": 32 * MIB,  # the default: a keyed caller may send a 30 MiB body
        "body_timeout_seconds": BODY_TIMEOUT,
        "header_timeout_seconds": HEADER_TIMEOUT,
        "max_connections": MAX_CONNECTIONS,
        "max_in_flight": MAX_IN_FLIGHT,
    }
    g = GatewayProcess(
        tmp_path_factory.mktemp("limits"),
        default_config(upstream.url, free_port(), server=server, admin={"key": ADMIN_KEY}),
    )
    g.prepare()
    g.start()
    yield g
    g.stop()


def connect(gw: GatewayProcess, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length (every answer these tests expect has one)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {buf!r}")
        buf += chunk
    top, rest = buf.split(b"\r\n\r\n", 1)
    lines = top.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    size = int(headers.get("content-length", "0"))
    while len(rest) < size:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(lines[0].split(" ", 2)[1]), headers, rest[:size]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def keyed(gw: GatewayProcess, path: str = "", **extra: str) -> dict[str, str]:
    key = ADMIN_KEY if path.startswith("/admin/") else gw.key
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json", **extra}


def chat_ok(gw: GatewayProcess) -> None:
    r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers=gw.headers(), timeout=30)
    assert r.status_code == 200, r.text


def send_quietly(s: socket.socket, data: bytes) -> bool:
    try:
        s.sendall(data)
        return True
    except OSError:
        return False


def closed_within(s: socket.socket, timeout: float) -> bool:
    """The gateway closed the connection (EOF or reset) within `timeout`, whatever it sent before."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        pass
    return True


def test_a_64_mib_header_is_431_at_once_without_memory_growth(gw):
    pid = gw.proc.pid
    before = rss_kib(pid)
    s = connect(gw)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: ")
    chunk = b"a" * MIB

    def flood() -> None:
        for _ in range(64):
            if not send_quietly(s, chunk):
                return

    sender = threading.Thread(target=flood, daemon=True)
    t0 = time.monotonic()
    sender.start()
    status, headers, body = read_response(s)
    elapsed = time.monotonic() - t0
    assert status == 431, body
    assert orjson.loads(body)["error"]["code"] == "headers_too_large"
    assert headers["connection"] == "close"
    assert elapsed < 5, elapsed
    sender.join(15)
    s.close()
    assert rss_kib(pid) - before < 8 * 1024, (before, rss_kib(pid))
    chat_ok(gw)


def test_headers_under_the_cap_are_served(gw):
    r = httpx.post(
        gw.url + "/v1/chat/completions",
        json=CHAT,
        headers={**gw.headers(), "X-Pad": "p" * 40_000},
        timeout=30,
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ROUTES)
def test_a_caller_without_a_key_is_401_before_sending_the_body(gw, path):
    s = connect(gw)
    s.sendall(head("POST", path, {"Content-Type": "application/json", "Content-Length": str(30 * MIB)}))
    status, _, body = read_response(s)  # not one byte of the 30 MiB sent
    assert status == 401, body
    s.close()


@pytest.mark.parametrize("path", ROUTES)
def test_a_declared_body_over_the_limit_is_413_before_it_is_read(gw, path):
    s = connect(gw)
    s.sendall(head("POST", path, keyed(gw, path, **{"Content-Length": str(40 * MIB)})))
    status, _, body = read_response(s)
    assert status == 413, body
    err = orjson.loads(body)["error"]
    assert (
        (err["type"] == "request_too_large")
        if path == "/v1/messages"
        else (err["code"] == "request_too_large")
    )
    s.close()


@pytest.mark.parametrize("close", ["Connection: close", "HTTP/1.0"])
def test_a_closing_refusal_lingers_so_a_client_still_sending_its_body_is_not_reset(gw, close):
    """An answer that ends the connection (`Connection: close`, HTTP/1.0) written before the body was read: the
    gateway sends a FIN after it and reads the rest for a moment, instead of closing a socket with unread bytes,
    which resets the connection (and can destroy the answer before the client reads it)."""
    s = connect(gw)
    extra = {"Content-Length": str(40 * MIB)}
    if close == "Connection: close":
        extra["Connection"] = "close"
    request = head("POST", "/v1/chat/completions", keyed(gw, **extra))
    if close == "HTTP/1.0":
        request = request.replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    s.sendall(request + b"x" * 65536)
    status, headers, _ = read_response(s)
    assert status == 413 and headers.get("connection") == "close"
    time.sleep(0.3)  # the gateway has written its answer and ended its side
    sent = sum(send_quietly(s, b"x" * 65536) for _ in range(16))  # the client keeps sending its body
    # no reset: a socket closed on unread bytes answers the next sends with ECONNRESET/EPIPE
    assert sent == 16
    assert s.recv(65536) == b""  # then an orderly end of the stream
    s.close()


def test_a_body_over_the_limit_without_content_length_is_413(gw):
    s = connect(gw)
    s.sendall(head("POST", "/v1/chat/completions", keyed(gw, **{"Transfer-Encoding": "chunked"})))
    chunk = b"a" * MIB
    frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"

    def feed() -> None:
        for _ in range(40):
            if not send_quietly(s, frame):
                return
        send_quietly(s, b"0\r\n\r\n")

    sender = threading.Thread(target=feed, daemon=True)
    sender.start()
    status, _, body = read_response(s)
    assert status == 413, body
    sender.join(15)
    s.close()


@pytest.mark.parametrize("path", ROUTES)
def test_a_slow_body_is_408_after_the_deadline(gw, path):
    payload = orjson.dumps(
        {**CHAT, "max_tokens": 5} if path.endswith(("completions", "messages")) else {"name": "slow"}
    )
    s = connect(gw, timeout=BODY_TIMEOUT + 15)
    s.sendall(head("POST", path, keyed(gw, path, **{"Content-Length": str(len(payload))})))
    stop = threading.Event()

    def drip() -> None:
        for b in payload[:-1]:  # never the last byte
            if stop.wait(0.5) or not send_quietly(s, bytes([b])):
                return

    t0 = time.monotonic()
    sender = threading.Thread(target=drip, daemon=True)
    sender.start()
    status, headers, body = read_response(s)
    elapsed = time.monotonic() - t0
    stop.set()
    assert status == 408, body
    assert BODY_TIMEOUT - 0.5 <= elapsed < BODY_TIMEOUT + 10, elapsed
    # (the query and admin APIs' own error answers drop the header; the protocol closes the connection anyway)
    if not path.startswith(("/v1/request/", "/admin/")):
        assert headers["connection"] == "close"
    assert closed_within(s, BODY_TIMEOUT + 5)  # the rest of the body is never waited for
    if path == "/v1/messages":
        assert orjson.loads(body)["type"] == "error"
    else:
        assert orjson.loads(body)["error"]["code"] == "request_timeout"
    sender.join(5)
    s.close()


def test_slow_headers_are_408_after_the_deadline(gw):
    s = connect(gw, timeout=HEADER_TIMEOUT + 15)
    t0 = time.monotonic()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    for _ in range(3):
        time.sleep(0.3)
        s.sendall(b"X-Drip: 1\r\n")
    status, _, _ = read_response(s)
    assert status == 408
    assert HEADER_TIMEOUT - 0.5 <= time.monotonic() - t0 < HEADER_TIMEOUT + 10
    s.close()


def test_requests_over_the_in_flight_cap_get_503_with_retry_after(gw):
    slow: list[socket.socket] = []
    try:
        # keyed requests stuck reading their body: in flight until the deadline
        for _ in range(MAX_IN_FLIGHT):
            s = connect(gw, timeout=BODY_TIMEOUT + 15)
            s.sendall(head("POST", "/v1/messages", keyed(gw, **{"Content-Length": "100"})) + b"{")
            slow.append(s)
        time.sleep(0.5)
        h = {"x-api-key": gw.key, "anthropic-version": "2023-06-01"}
        r = httpx.post(gw.url + "/v1/messages", json={**CHAT, "max_tokens": 5}, headers=h, timeout=30)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]["type"] == "overloaded_error"  # the caller's (Anthropic) shape
        r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers=gw.headers(), timeout=30)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["error"]["code"] == "overloaded"
        assert httpx.get(gw.url + "/healthz", timeout=10).status_code == 200  # exempt
        for s in slow:  # the stuck ones end with 408 at their deadline, and the slots come back
            assert read_response(s)[0] == 408
        chat_ok(gw)
    finally:
        for s in slow:
            s.close()


def test_connections_over_the_cap_get_503_with_retry_after(gw):
    time.sleep(1)  # connections of earlier tests closed
    socks: list[socket.socket] = []
    try:
        for _ in range(MAX_CONNECTIONS + 5):
            s = connect(gw)
            s.sendall(head("GET", "/healthz", {}))
            socks.append(s)
        answers = [read_response(s) for s in socks]
        statuses = [a[0] for a in answers]
        assert statuses.count(200) <= MAX_CONNECTIONS and statuses.count(503) >= 5, statuses
        for status, headers, body in answers:
            if status == 503:
                assert headers["retry-after"] == "1", headers
                assert orjson.loads(body)["error"]["code"] == "too_many_connections"
    finally:
        for s in socks:
            s.close()
    time.sleep(0.5)
    chat_ok(gw)


def _hostile(gw: GatewayProcess, stop: threading.Event, kind: str, counts: dict[str, int]) -> None:
    """One hostile caller without a key, reconnecting whenever the gateway closes on it."""
    big = b"a" * MIB
    while not stop.is_set():
        try:
            s = connect(gw, timeout=20)
        except OSError:
            time.sleep(0.1)
            continue
        with contextlib.closing(s):
            if kind == "huge-header":  # a 64 MiB header as fast as possible
                s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: ")
                for _ in range(64):
                    if stop.is_set() or not send_quietly(s, big):
                        break
            elif kind == "slow-header":  # headers under the cap, a few bytes at a time
                send_quietly(s, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
                while not stop.is_set() and send_quietly(s, b"X-Drip: 1\r\n"):
                    stop.wait(0.2)
            elif kind == "large-body":  # a 30 MiB body, no key, as fast as possible
                send_quietly(s, head("POST", "/v1/chat/completions", {"Content-Length": str(30 * MIB)}))
                for _ in range(30):
                    if stop.is_set() or not send_quietly(s, big):
                        break
            elif kind == "slow-body":  # a 30 MiB body declared, no key, 1 byte per 0.5 s
                send_quietly(s, head("POST", "/v1/messages", {"Content-Length": str(30 * MIB)}))
                while not stop.is_set() and send_quietly(s, b"a"):
                    stop.wait(0.5)
            counts[kind] = counts.get(kind, 0) + 1


def test_memory_stays_bounded_under_20_hostile_connections_while_normal_traffic_is_served(gw):
    pid = gw.proc.pid
    for _ in range(20):  # warm up: the baseline includes what normal traffic allocates
        chat_ok(gw)
    baseline = rss_kib(pid)
    stop = threading.Event()
    counts: dict[str, int] = {}
    kinds = ["huge-header", "slow-header", "large-body", "slow-body"]
    threads = [
        threading.Thread(target=_hostile, args=(gw, stop, kinds[i % 4], counts), daemon=True)
        for i in range(20)
    ]
    for t in threads:
        t.start()
    peak = baseline
    served = 0
    latencies: list[float] = []
    try:
        t_end = time.monotonic() + 8  # at least 8 s and 10 normal requests under the hostile load
        while time.monotonic() < t_end or served < 10:
            t0 = time.monotonic()
            chat_ok(gw)
            latencies.append(time.monotonic() - t0)
            served += 1
            peak = max(peak, rss_kib(pid))
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(20)
    grown_mib = (peak - baseline) / 1024
    print(
        f"baseline {baseline / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB (+{grown_mib:.1f}), served {served}, "
        f"max latency {max(latencies):.2f} s, hostile connections {counts}"
    )
    # Before the limits: +70 MiB in these 8 s (and growing), one normal request served, after 23 s.
    # Now each hostile connection holds at most a header section or ~320 KiB of unread body: ~0 MiB measured.
    assert max(latencies) < 10, latencies
    assert grown_mib < 24, (baseline, peak)
    chat_ok(gw)
