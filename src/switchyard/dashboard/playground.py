"""The prompt playground: run a managed prompt's version (or environment) with inputs through the gateway itself.

The run goes through the real chat route (`api/proxy.ProxyRoute` on `/v1/chat/completions`) in this process, so
it is authenticated, planned, limited, priced, cached and logged like any request: the dashboard hands the route
a one-time grant (`Authenticator.grant`) standing for the signed-in viewer — their own gateway key (its allowed
models and limits apply), or for the admin key the organisation shown, without a key's restrictions (the row's
key id is `dashboard-admin-<12 hex digits of the organisation id's hash>`: one per organisation, because per-key
limit counters are named by key id and a shared id let one organisation's runs use up another's limits). The row carries the prompt id, version and inputs like any prompt call, plus the
property `playground: dashboard` so playground traffic can be told apart. Runs are not streamed.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..api import surfaces
from ..api.proxy import ProxyRoute
from ..pipeline.auth import Principal
from ..pipeline.prompt_template import VARIABLE
from ..stores.base import GatewayKey
from .access import Viewer

CHAT_PATH = "/v1/chat/completions"
ADMIN_KEY_ID = "dashboard-admin"
ROW_WAIT_SECONDS = 2.0  # how long the answer waits for its row (for the cost) before linking to it anyway
KINDS = ("string", "number", "boolean")


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str  # string | number | boolean | any other name (untyped: sent as JSON when it parses)


@dataclass
class Outcome:
    status: int
    request_id: str
    answer: str | None = None
    model: str | None = None
    provider: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    error: str | None = None
    logged: bool = False  # the row was found (the cost comes from it)


def variables(body: Any) -> list[Variable]:
    """The `{{hc:name:type}}` variables of a version's body (keys and values), in order of appearance."""
    found: dict[str, Variable] = {}

    def walk(v: Any) -> None:
        if isinstance(v, str):
            for m in VARIABLE.finditer(v):
                found.setdefault(m.group(1), Variable(m.group(1), m.group(2)))
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(k)
                walk(x)

    walk(body)
    return list(found.values())


def input_value(var: Variable, raw: str) -> Any:
    """A form field's text as the value sent in `inputs`: typed variables are checked by the gateway itself (a
    400 naming the variable); an untyped one is JSON when it parses (a list for an enum), else the text."""
    if var.kind in KINDS:
        return raw
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def principal_of(viewer: Viewer) -> Principal:
    if viewer.key is not None and not viewer.admin:
        return Principal(key=viewer.key, org=viewer.org)
    key = GatewayKey(
        id=f"{ADMIN_KEY_ID}-{hashlib.sha256(viewer.org.id.encode()).hexdigest()[:12]}",  # ≤ 36: the row's key_id
        org_id=viewer.org.id,
        name="dashboard playground (admin)",
        prefix="dashboard",
        created_at=0,
        revoked_at=None,
    )
    return Principal(key=key, org=viewer.org)


async def run(deps: Any, viewer: Viewer, body: dict[str, Any]) -> Outcome:
    """POST `body` to the chat route in this process as `viewer`; the answer, its usage and (from the row) its cost."""
    token = deps.auth.grant(principal_of(viewer))
    raw = orjson.dumps({**body, "stream": False})
    headers = [
        (b"host", b"dashboard.playground"),
        (b"authorization", b"Bearer " + token.encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
        (b"helicone-property-playground", b"dashboard"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CHAT_PATH,
        "raw_path": CHAT_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    done = asyncio.Event()
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    status, out_headers, chunks = 0, {}, []

    async def send(msg: MutableMapping[str, Any]) -> None:
        nonlocal status, out_headers
        if msg["type"] == "http.response.start":
            status = msg["status"]
            out_headers = {k.decode().lower(): v.decode() for k, v in msg.get("headers", [])}
        elif msg["type"] == "http.response.body":
            chunks.append(msg.get("body", b""))

    started = time.monotonic()
    try:
        await ProxyRoute(deps, surfaces.CHAT, alternate=surfaces.chat_alternate)(scope, receive, send)
    finally:
        done.set()
    out = Outcome(status, out_headers.get("helicone-id", ""), latency_ms=(time.monotonic() - started) * 1000)
    _read_answer(out, b"".join(chunks))
    out.provider = out_headers.get("helicone-provider")
    await _cost_from_row(deps, viewer.org.id, out)
    return out


def _read_answer(out: Outcome, data: bytes) -> None:
    try:
        doc = orjson.loads(data) if data else {}
    except orjson.JSONDecodeError:
        doc = {}
    if out.status != 200:
        err = doc.get("error") if isinstance(doc, dict) else None
        message = err.get("message") if isinstance(err, dict) else None
        out.error = str(message or f"The gateway answered {out.status}.")
        return
    choices = doc.get("choices") or [{}]
    message = choices[0].get("message") or {}
    content = message.get("content")
    if content is None and message.get("tool_calls"):
        content = orjson.dumps(message["tool_calls"], option=orjson.OPT_INDENT_2).decode()
    out.answer = content if isinstance(content, str) else orjson.dumps(content).decode()
    out.model = doc.get("model")
    usage = doc.get("usage") or {}
    out.prompt_tokens = usage.get("prompt_tokens")
    out.completion_tokens = usage.get("completion_tokens")
    out.total_tokens = usage.get("total_tokens")


async def _cost_from_row(deps: Any, org_id: str, out: Outcome) -> None:
    """The cost is the log row's (priced as every request is): wait briefly for the writer to store it."""
    if not out.request_id:
        return
    deadline = time.monotonic() + ROW_WAIT_SECONDS
    while True:
        row = await deps.store.get_request(org_id, out.request_id)
        if row is not None:
            out.logged, out.cost_usd = True, row.get("cost_usd")
            return
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(0.05)
