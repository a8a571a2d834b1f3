"""What reaches the upstream, end to end through a real gateway: model strings in Azure deployment URLs stay
one percent-encoded path segment (no traversal, no query of their own), bad model names are a 400, a large
answer leaves the pooled connection usable, and an egress proxy from HTTP_PROXY carries the requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
import yaml

from support.cli_inprocess import refused_serve
from support.gateway import GatewayProcess, default_config, free_port
from support.http_proxy import ForwardProxy
from support.raw_http import InThread, RawRequest, RawServer, response
from support.wire import exchange

CHAT = orjson.dumps(exchange("openai/chat_completion.json")["response"]["body"])
PROXIED_NAME = "upstream.switchyard.test"  # never resolves: only the proxy knows where it is
BIG = {"big-1mib": (1 << 20) + 1, "big-1.26mb": 1_260_000}


def embeddings(size: int) -> bytes:
    """An OpenAI embeddings answer of exactly `size` bytes (padded with JSON whitespace)."""
    n = size // 21
    body = orjson.dumps(
        {
            "object": "list",
            "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.0123456789012345] * n}],
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        }
    )
    assert len(body) <= size
    return body + b" " * (size - len(body))


async def answer(req: RawRequest, w: asyncio.StreamWriter) -> bool:
    size = next(
        (n for tag, n in BIG.items() if req.target.startswith(f"/{tag}/") and "embeddings" in req.target),
        None,
    )
    w.write(response(200, embeddings(size) if size else CHAT, {"content-type": "application/json"}))
    await w.drain()
    return True


@pytest.fixture(scope="module")
def raw_upstream() -> Iterator[RawServer]:
    runner = InThread(RawServer(answer))
    server = runner.start()
    yield server
    runner.stop()


@pytest.fixture(scope="module")
def proxy(raw_upstream) -> Iterator[ForwardProxy]:
    runner = InThread(ForwardProxy(("127.0.0.1", raw_upstream.port)))
    yield runner.start()
    runner.stop()


@pytest.fixture(scope="module")
def gw(raw_upstream, proxy, tmp_path_factory) -> Iterator[GatewayProcess]:
    cfg = default_config(raw_upstream.url, free_port())
    cfg["providers"]["azure"] = {
        "base_url": f"{raw_upstream.url}/azure",
        "api_key": "azure-upstream-key-e2e-0009",
        "config": {"api_version": "2024-10-21"},
    }  # no deployment: the model names it
    for tag in BIG:  # first_byte_timeout short: a connection left paused would show as a 504 in seconds
        cfg["providers"][tag] = {
            "format": "openai",
            "base_url": f"{raw_upstream.url}/{tag}/v1",
            "api_key": "x",
            "embeddings": True,
            "first_byte_timeout": 5,
        }
    cfg["providers"]["via-proxy"] = {
        "format": "openai",
        "base_url": f"http://{PROXIED_NAME}:{raw_upstream.port}/v1",
        "api_key": "x",
    }
    gateway = GatewayProcess(tmp_path_factory.mktemp("paths"), cfg, env={"HTTP_PROXY": proxy.url})
    gateway.prepare()
    gateway.start()
    yield gateway
    gateway.stop()


def chat(gw: GatewayProcess, model: str) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers=gw.headers(),
        timeout=30,
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
    )


def azure_targets(upstream: RawServer) -> list[str]:
    return [r.target for r in upstream.requests if r.headers.get("api-key") == "azure-upstream-key-e2e-0009"]


@pytest.mark.parametrize(
    ("model", "segment"),
    [
        (
            "../../../internal/anything?injected=1#/azure",
            "..%2F..%2F..%2Finternal%2Fanything%3Finjected%3D1%23",
        ),
        ("a b/azure", "a%20b"),
        ("\u20ac/azure", "%E2%82%AC"),
        ("gpt-4o-mini%2F..%2F/azure", "gpt-4o-mini%252F..%252F"),
    ],
)
def test_a_model_string_stays_one_encoded_path_segment(gw, raw_upstream, model, segment):
    before = len(azure_targets(raw_upstream))
    r = chat(gw, model)
    assert r.status_code == 200, r.text
    sent = azure_targets(raw_upstream)[before:]
    assert sent == [f"/azure/openai/deployments/{segment}/chat/completions?api-version=2024-10-21"]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("../azure", "cannot be used in an upstream URL"),
        ("x" * 300 + "/azure", "at most 256"),
        ("gpt-4o-mini\u0000/azure", "control character (U+0000)"),
        ("gpt-4o-mini\r\n/azure", "control character (U+000D)"),
        (",".join(["gpt-4o-mini/openai"] * 200), "at most 2048"),
    ],
)
def test_a_bad_model_name_is_a_400_that_sends_nothing(gw, raw_upstream, model, message):
    before = len(raw_upstream.requests)
    r = chat(gw, model)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_model" and message in err["message"]
    assert len(raw_upstream.requests) == before


@pytest.mark.parametrize("tag", list(BIG))
def test_a_large_answer_leaves_the_pooled_connection_usable(gw, raw_upstream, tag):
    r = httpx.post(
        f"{gw.url}/v1/embeddings",
        headers=gw.headers(),
        timeout=30,
        json={"model": f"text-embedding-3-small/{tag}", "input": "hi", "encoding_format": "float"},
    )
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["data"][0]["embedding"]) == BIG[tag] // 21
    t0 = time.monotonic()
    r = chat(gw, f"gpt-4o-mini/{tag}")
    assert r.status_code == 200, r.text
    assert time.monotonic() - t0 < 2
    conns = [q.conn for q in raw_upstream.requests if q.target.startswith(f"/{tag}/")]
    assert (
        len(conns) == 2 and conns[0] == conns[1]
    )  # the chat call went out on the same kept-alive connection


def test_http_proxy_from_the_environment_carries_upstream_requests(gw, proxy):
    r = chat(gw, "gpt-4o-mini/via-proxy")
    assert r.status_code == 200, r.text
    assert ("POST", f"http://{PROXIED_NAME}:{proxy.origin[1]}/v1/chat/completions") in [
        s[:2] for s in proxy.seen
    ]


def test_a_provider_header_that_cannot_be_sent_fails_the_start_naming_the_field(tmp_path):
    cfg = default_config("http://127.0.0.1:9", free_port())
    cfg["providers"]["openai"]["headers"] = {"x-team": "a\r\nx-injected: 1"}
    path = tmp_path / "switchyard.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {"SWITCHYARD_HOME": str(tmp_path), "SWITCHYARD_CONFIG": str(path), "PATH": "/usr/bin:/bin"}
    out = refused_serve(env=env)  # in this process, up to the refusal (support/cli_inprocess.py)
    assert out.returncode == 2
    assert "providers.openai.headers" in out.stderr and "control character" in out.stderr
