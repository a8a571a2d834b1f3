"""The caller's side of the fault tests: a gateway wired to a FaultUpstream, and calls that time themselves.

Every call sends its own `Helicone-Request-Id`, so the test can read the log row of exactly that request.
Every call has a client timeout: a behaviour that is not built yet must fail the test, never hang it.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson

from .fault_upstream import FaultUpstream
from .gateway import GatewayProcess, default_config, free_port

STEADY = "gpt-4o-mini/steady"  # a healthy fallback: a registry model on a custom provider is passed through
# For modules that fail providers on purpose many times: a circuit that never stays open (an `auth` failure
# opens it at once, whatever the count), so one test's faults never skip a provider in the next test.
NO_BREAKER = {"breaker": {"failures": 10_000, "open_seconds": 0.001, "max_open_seconds": 0.001}}


def tag() -> str:
    """A fresh tag for fault model names, so each test counts only its own upstream requests."""
    return uuid.uuid4().hex[:10]


def start_gateway(
    home: Path, fault: FaultUpstream, providers: dict[str, dict[str, Any]], **extra: Any
) -> GatewayProcess:
    """A gateway whose only providers are `providers` (entries from `fault.provider(...)`), warmed up.

    The warm-up requests (to `steady`, which every fault gateway has) take the first request's one-off costs,
    in the gateway and in the SDK, out of the tests, several of which assert how long a request took.
    """
    cfg = default_config(fault.url, free_port())
    cfg["providers"] = providers
    for section, values in extra.items():  # (default_config's own `upstream` parameter shadows that section)
        cfg[section] = {**cfg.get(section, {}), **values}
    gw = GatewayProcess(home, cfg)
    gw.prepare()
    try:
        gw.start(timeout=90)  # a busy machine (parallel test runs) can take that long to import and serve
        sdk_complete(gw, STEADY, timeout=30)  # (also loads the openai SDK's lazily imported types here)
        sdk_stream(gw, STEADY, timeout=30)
    except BaseException:
        gw.stop()  # a fixture whose setup fails is never torn down; GatewayProcess.start leaks one, too
        raise
    return gw


def byok_gateway(home: Path, fault: FaultUpstream) -> GatewayProcess:
    """A fault gateway for organisations' own provider keys (BYOK), with the admin API on (a fresh admin key, for
    `GatewayProcess.admin`): the operator's `openai` entry speaks OpenAI's own format to the fault upstream's
    `ptb` provider, and an organisation key added through the admin API brings its own `base_url`."""
    return start_gateway(
        home,
        fault,
        {"openai": fault.provider("ptb", None), "steady": fault.provider("steady")},
        admin={"key": "admin-" + secrets.token_hex(16)},
    )


@dataclass
class Call:
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed: float  # seconds
    request_id: str

    def json(self) -> Any:
        return orjson.loads(self.body)

    def error(self) -> dict[str, Any]:
        """The OpenAI-shaped error object of a failed call (asserts the shape)."""
        body = self.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), dict), self.body[:500]
        err = body["error"]
        assert isinstance(err.get("message"), str) and err["message"], err
        assert "type" in err and "code" in err, err
        return err


def call(
    gw: GatewayProcess,
    model: str,
    *,
    stream: bool = False,
    headers: dict[str, str] | None = None,
    timeout: float = 8.0,
) -> Call:
    """POST /v1/chat/completions with raw httpx: the status, headers and body exactly as a caller sees them."""
    rid = str(uuid.uuid4())
    payload: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "What is the weather?"}],
    }
    if stream:
        payload["stream"] = True
    t0 = time.monotonic()
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        json=payload,
        timeout=timeout,
        headers={**gw.headers(), "Helicone-Request-Id": rid, **(headers or {})},
    )
    return Call(r.status_code, r.headers, r.content, time.monotonic() - t0, rid)


def client(gw: GatewayProcess, timeout: float = 8.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, timeout=timeout)


@dataclass
class StreamRead:
    text: str
    finish_reason: str | None
    error: openai.APIError | None  # what the SDK raised while reading, if anything
    elapsed: float
    request_id: str
    headers: httpx.Headers


def sdk_stream(
    gw: GatewayProcess, model: str, headers: dict[str, str] | None = None, timeout: float = 8.0
) -> StreamRead:
    """Read a chat stream with the openai SDK, as an application would; an error event ends it with APIError."""
    rid = str(uuid.uuid4())
    text, finish, error = "", None, None
    t0 = time.monotonic()
    with client(gw, timeout).chat.completions.with_streaming_response.create(
        model=model,
        messages=[{"role": "user", "content": "What is the weather?"}],
        stream=True,
        extra_headers={"Helicone-Request-Id": rid, **(headers or {})},
    ) as resp:
        try:
            for chunk in resp.parse():
                for ch in chunk.choices:
                    text += ch.delta.content or ""
                    finish = ch.finish_reason or finish
        except openai.APIError as e:
            error = e
        return StreamRead(text, finish, error, time.monotonic() - t0, rid, resp.headers)


def sdk_complete(
    gw: GatewayProcess, model: str, headers: dict[str, str] | None = None, timeout: float = 8.0
) -> tuple[str, str, float]:
    """A non-stream completion through the openai SDK: (content, request id, seconds)."""
    rid = str(uuid.uuid4())
    t0 = time.monotonic()
    completion = client(gw, timeout).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "What is the weather?"}],
        extra_headers={"Helicone-Request-Id": rid, **(headers or {})},
    )
    return completion.choices[0].message.content or "", rid, time.monotonic() - t0


def attempts(gw: GatewayProcess, request_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The log row of a request (rows are written asynchronously: polled up to 5 s) and its attempts."""
    row = gw.wait_row(request_id, timeout=5)
    tried = row.get("attempts")
    assert isinstance(tried, list), row
    return row, tried
