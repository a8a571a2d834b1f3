"""Hostile input against every surface of a real gateway: random and malformed JSON, wrong types, huge and deeply
nested values, invalid UTF-8, NUL bytes, odd Helicone headers. Whatever arrives, the caller gets an answer in its
own wire format and never a 5xx made by the gateway; afterwards the gateway still serves normal traffic and every
answered request of a known caller can be found by its id.

Runs on SQLite and on PostgreSQL (NUL bytes and invalid text are where PostgreSQL refuses what SQLite takes).
Under CI the examples are derandomised so a run is reproducible; locally each run explores new inputs.
"""

from __future__ import annotations

import os
import string
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.gateway import GatewayProcess, default_config, free_port
from support.services import require_postgres

ADMIN_KEY = "fuzz-admin-key-0123456789abcdefghijklmnopqrstuvwxyz"
UPSTREAM_SECRETS = (
    "sk-upstream-openai-secret-0001",
    "sk-ant-upstream-secret-0002",
    "AIzaUpstreamSecret0003xyz",
)
EXAMPLES = int(os.environ.get("SWITCHYARD_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

MODELS = [
    "gpt-4o-mini",
    "gpt-4o-mini/openai",
    "claude-sonnet-4/anthropic",
    "gemini-2.5-flash/google-ai-studio",
    "claude-sonnet-4/anthropic,gpt-4o-mini/openai",
    "!anthropic,gpt-4o-mini",
]

# -- value strategies ----------------------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    [
        "",
        "\x00",
        "a\x00b",
        "€",
        "東京",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "%00",
        "a" * 5000,
        "\ud7ff",
    ]
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


def _mutate(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body with some fields replaced by random values, some removed and some added."""
    keys = sorted(base)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        body = dict(base)
        for k in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
            if draw(st.booleans()):
                body[k] = draw(_json)
            else:
                body.pop(k, None)
        for k, v in draw(st.dictionaries(st.sampled_from(FIELDS) | _text, _json, max_size=3)).items():
            body[k] = v
        if draw(st.booleans()):
            body["model"] = draw(st.sampled_from(MODELS) | _text)
        return body

    return build()


FIELDS = [
    "model",
    "messages",
    "stream",
    "stream_options",
    "n",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "tools",
    "tool_choice",
    "response_format",
    "stop",
    "seed",
    "logprobs",
    "reasoning_effort",
    "prompt",
    "input",
    "system",
    "thinking",
    "metadata",
    "user",
    "best_of",
    "previous_response_id",
    "instructions",
    "dimensions",
    "encoding_format",
    "parallel_tool_calls",
]

USER = [{"role": "user", "content": "hello"}]
SURFACES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"model": "gpt-4o-mini", "messages": USER},
    "/v1/completions": {"model": "gpt-4o-mini", "prompt": "hello", "max_tokens": 5},
    "/v1/messages": {"model": "claude-sonnet-4", "max_tokens": 32, "messages": USER},
    "/v1/responses": {"model": "gpt-4o-mini", "input": "hello"},
    "/v1/embeddings": {"model": "text-embedding-3-small", "input": "hello"},
}

_raw_bodies = st.sampled_from(
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"text"',
        b"\xff\xfe\x00garbage",
        b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
        b'{"model": "gpt-4o-mini\\u0000", "messages": [{"role": "user", "content": "x"}]}',
        b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "n": 1e400}',
        b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1e308}',
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b'{"model": "gpt-4o-mini", "messages": ' + b"[" * 2000 + b"]" * 2000 + b"}",
    ]
) | st.binary(max_size=200)

_header_token = st.text(string.ascii_letters + string.digits + "-_.;=,:/ !%*", max_size=60).map(str.strip)
HELICONE_HEADERS = [
    "Helicone-Cache-Enabled",
    "Helicone-Cache-Bucket-Max-Size",
    "Helicone-Cache-Seed",
    "Helicone-Cache-Ignore-Keys",
    "Helicone-RateLimit-Policy",
    "Helicone-Retry-Enabled",
    "Helicone-Retry-Num",
    "Helicone-Retry-Factor",
    "Helicone-Session-Id",
    "Helicone-Session-Path",
    "Helicone-Session-Name",
    "Helicone-User-Id",
    "Helicone-Request-Id",
    "Helicone-Property-Fuzz",
    "Helicone-Gateway-Body-Mapping",
    "Helicone-Prompt-Id",
    "Switchyard-Timeout-Ms",
    "Switchyard-Connect-Timeout-Ms",
    "Switchyard-First-Byte-Timeout-Ms",
    "Switchyard-Hedge-After-Ms",
    "Switchyard-Stream-Continuation",
    "Content-Type",
    "anthropic-version",
]
_headers = st.dictionaries(st.sampled_from(HELICONE_HEADERS), _header_token, max_size=4)

# -- the gateway ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gw(
    request: pytest.FixtureRequest, upstream: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    extra: dict[str, Any] = {"admin": {"key": ADMIN_KEY}}
    if request.param == "postgres":
        schema = f"fuzz_{uuid.uuid4().hex[:10]}"
        extra["database"] = {"url": require_postgres(), "schema": schema}
    g = GatewayProcess(
        tmp_path_factory.mktemp(f"fuzz-{request.param}"), default_config(upstream.url, free_port(), **extra)
    )
    g.prepare()
    g.start()
    g.client = httpx.Client(base_url=g.url, timeout=30)  # type: ignore[attr-defined]
    yield g
    g.client.close()  # type: ignore[attr-defined]
    g.stop()


def _check(r: httpx.Response, path: str) -> None:
    """The gateway answered in the caller's wire shape, and nothing it answered is a 5xx of its own making."""
    text = r.text
    assert "Traceback" not in text
    for secret in (*UPSTREAM_SECRETS, ADMIN_KEY):
        assert secret not in text
    assert r.status_code < 500, f"{path} answered {r.status_code}: {text[:500]}"
    if r.status_code < 400:
        return
    assert r.headers.get("content-type", "").startswith("application/json"), text[:300]
    body = r.json()
    if path == "/v1/messages":
        assert body["type"] == "error" and body["error"]["type"] and body["error"]["message"], body
    else:
        err = body["error"]
        assert isinstance(err, dict) and err["message"], body


def _send(gw: GatewayProcess, path: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
    h = {"Authorization": f"Bearer {gw.key}", "content-type": "application/json", **headers}
    return gw.client.post(path, content=content, headers=h)  # type: ignore[attr-defined]


def _healthy(gw: GatewayProcess) -> None:
    r = _send(gw, "/v1/chat/completions", orjson.dumps({"model": "gpt-4o-mini", "messages": USER}), {})
    assert r.status_code == 200, r.text
    assert gw.client.get("/healthz").status_code == 200  # type: ignore[attr-defined]


# -- the properties ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SURFACES))
def test_mutated_bodies_never_5xx(gw: GatewayProcess, path: str) -> None:
    @FUZZ
    @given(body=_mutate(SURFACES[path]), headers=_headers)
    def run(body: dict[str, Any], headers: dict[str, str]) -> None:
        _check(_send(gw, path, orjson.dumps(body), headers), path)

    run()
    _healthy(gw)


@pytest.mark.parametrize("path", sorted(SURFACES))
def test_raw_bytes_never_5xx(gw: GatewayProcess, path: str) -> None:
    @FUZZ
    @given(content=_raw_bodies)
    def run(content: bytes) -> None:
        _check(_send(gw, path, content, {}), path)

    run()
    _healthy(gw)


def test_streamed_mutations_end_cleanly(gw: GatewayProcess) -> None:
    """A streamed request either fails before the stream starts (an error body) or is a well-formed SSE stream."""

    @FUZZ
    @given(body=_mutate({"model": "gpt-4o-mini", "messages": USER, "stream": True}))
    def run(body: dict[str, Any]) -> None:
        body["stream"] = True
        r = _send(gw, "/v1/chat/completions", orjson.dumps(body), {})
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            assert r.status_code == 200 and "data:" in r.text
        else:
            _check(r, "/v1/chat/completions")

    run()
    _healthy(gw)


_filters = st.recursive(
    st.fixed_dictionaries(
        {
            "request": st.dictionaries(
                _text,
                st.dictionaries(
                    st.sampled_from(["equals", "gt", "lt", "contains", "like", "gte", "in"]) | _text,
                    _json,
                    max_size=2,
                ),
                max_size=2,
            )
        }
    )
    | st.fixed_dictionaries({"properties": st.dictionaries(_text, _json, max_size=2)})
    | _json,
    lambda inner: st.fixed_dictionaries(
        {"left": inner, "operator": st.sampled_from(["and", "or", "xor", ""]) | _json, "right": inner}
    ),
    max_leaves=8,
)


def test_query_api_never_5xx(gw: GatewayProcess) -> None:
    @FUZZ
    @given(filt=_filters, limit=_json, offset=_json, sort=_json)
    def run(filt: Any, limit: Any, offset: Any, sort: Any) -> None:
        body = {"filter": filt, "limit": limit, "offset": offset, "sort": sort}
        _check(_send(gw, "/v1/request/query", orjson.dumps(body), {}), "/v1/request/query")

    run()
    for rid in ("%00", "..", "x" * 400, "%ff", "a%2fb"):
        r = gw.client.get(f"/v1/request/{rid}", headers={"Authorization": f"Bearer {gw.key}"})  # type: ignore[attr-defined]
        assert r.status_code == 404, (rid, r.status_code, r.text[:200])
    _healthy(gw)


ADMIN_WRITES = [
    ("POST", "/admin/v1/orgs"),
    ("PATCH", "/admin/v1/orgs/default"),
    ("POST", "/admin/v1/orgs/default/keys"),
    ("POST", "/admin/v1/orgs/default/provider-keys"),
    ("POST", "/admin/v1/orgs/default/credits"),
    ("PATCH", "/admin/v1/keys/no-such-key"),
]


def test_admin_api_never_5xx(gw: GatewayProcess) -> None:
    @FUZZ
    @given(
        target=st.sampled_from(ADMIN_WRITES),
        body=_json
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "limits",
                    "allowed_models",
                    "provider",
                    "key",
                    "amount_usd",
                    "credits_enabled",
                    "id",
                    "secret",
                    "config",
                ]
            ),
            _json,
            max_size=4,
        ),
    )
    def run(target: tuple[str, str], body: Any) -> None:
        method, path = target
        r = gw.client.request(
            method,
            path,
            content=orjson.dumps(body),
            headers={"Authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"},
        )  # type: ignore[attr-defined]
        _check(r, path)

    run()
    _healthy(gw)


def test_every_answer_of_a_known_caller_is_logged(gw: GatewayProcess) -> None:
    """After the storm above, requests with hostile content still land in the log and are found by their id."""
    ids = []
    for content in ("a\x00b", "\ud7ff", "<b>x</b>", "€" * 1000):
        rid = str(uuid.uuid4())
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], "user": content}
        r = _send(
            gw,
            "/v1/chat/completions",
            orjson.dumps(body),
            {"Helicone-Request-Id": rid, "Helicone-Property-Odd": "<i>x</i>; y=1"},
        )
        assert r.status_code in (200, 400), r.text
        ids.append(rid)
    bad = _send(
        gw,
        "/v1/chat/completions",
        b'{"model": "gpt-4o-mini\\u0000", "messages": []}',
        {"Helicone-Request-Id": (nul_id := str(uuid.uuid4()))},
    )
    assert bad.status_code == 400
    ids.append(nul_id)
    deadline = time.monotonic() + 15
    for rid in ids:
        row = gw.wait_row(rid, timeout=max(1.0, deadline - time.monotonic()))
        assert row
