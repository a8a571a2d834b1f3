"""The proxy routes (chat completions, legacy completions): raw ASGI handlers on the hot path.

Order per request: authenticate (headers) → read body (size limit, deadline) → parse → routing options
(headers) → plan (with the organisation's BYOK keyring, filtered by the key's allow-list) → limits
(admission: rate limits, budgets) → cache (a hit answers at once) → execute → respond. In `finally` the
limits are settled with the real cost and the request record is submitted to the log sink, so every answered
request of a known caller is logged, errors and client disconnects included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import orjson

from ..errors import GatewayError, bad_request, redact
from ..pipeline.caller_keys import caller_key, caller_plan
from ..pipeline.context import RequestContext
from ..pipeline.headers import header_map, parse_helicone
from ..pipeline.model_override import model_override
from ..pipeline.options import route_options
from ..pipeline.plan import restrict
from ..pipeline.record import build_record
from ..pipeline.token_limit import fit_request, handler_of
from ..providers.base import UpstreamError
from .asgi import SSE, Receive, Scope, Send, declared_length, read_body, send_response
from .cache_response import cache_lookup, send_hit
from .content_encoding import check as check_encodings
from .content_encoding import codings, inflated
from .surfaces import SurfaceSpec

log = logging.getLogger("switchyard.proxy")

_SSE_HEADERS = [(b"content-type", SSE), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


def parse_json_body(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise bad_request("The request body is empty; send a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise bad_request(
            f"The request body is not valid JSON: {e.msg} (at position {e.pos}).", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    return body


_MAX_MODEL_NAME = 256  # one entry of the model field (a model with its /provider/key-id)
_MAX_MODEL_FIELD = 2048  # the whole field, fallbacks and exclusions included
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def require_model(body: dict[str, Any]) -> str:
    """The model field, checked before it reaches the planner, an upstream URL or a log row."""
    model = body.get("model")
    if model is None:
        raise bad_request("Missing required parameter: 'model'.", code="missing_model", param="model")
    if not isinstance(model, str):
        raise bad_request("Invalid type for 'model': expected a string.", code="invalid_model", param="model")
    if not model.strip():
        raise bad_request("'model' must not be empty.", code="invalid_model", param="model")
    bad = _CONTROL.search(model)
    if bad:
        raise bad_request(
            f"'model' contains a control character (U+{ord(bad.group()):04X}) at position {bad.start()}.",
            code="invalid_model",
            param="model",
        )
    if len(model) > _MAX_MODEL_FIELD:
        raise bad_request(
            f"'model' is {len(model)} characters long; at most {_MAX_MODEL_FIELD} are accepted.",
            code="invalid_model",
            param="model",
        )
    for name in model.split(","):
        if len(name.strip()) > _MAX_MODEL_NAME:
            raise bad_request(
                f"A model name in 'model' is {len(name.strip())} characters long; at most "
                f"{_MAX_MODEL_NAME} are accepted.",
                code="invalid_model",
                param="model",
            )
    return model


class ProxyRoute:
    """One caller surface (chat, legacy completions, Anthropic messages, Responses, embeddings) over the
    shared pipeline. `alternate` picks another surface per request (a Responses-shaped body on chat)."""

    def __init__(self, deps: Any, spec: SurfaceSpec, alternate: Any = None) -> None:
        self.deps = deps
        self.spec = spec
        self._alternate = alternate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        deps = self.deps
        headers = header_map(scope["headers"])
        h = parse_helicone(headers)
        ctx = RequestContext(path=scope["path"], helicone=h, forward_headers=headers)
        out_headers = [(b"helicone-id", h.request_id.encode())]
        spec = self.spec
        admission = None  # rate limits and budgets held by this request, settled in `finally`
        ticket = None  # the response cache's ticket (None: the request did not ask for caching)
        try:
            # the key comes from the headers: a caller without one is refused before a byte of the body is read
            ctx.principal = await deps.auth.authenticate(headers)
            deps.request_ids.claim(
                ctx.principal.org.id, h
            )  # 409 while this org runs a request with the same id
            server = deps.settings.server
            encodings = codings(scope["headers"])
            check_encodings(encodings)  # 415 for a Content-Encoding that cannot be undone, before reading
            raw = await read_body(
                receive,
                server.max_body_bytes,
                timeout=server.body_timeout_seconds,
                declared=declared_length(scope["headers"]),
            )
            if encodings:  # gzip/deflate: the size limit applies to the inflated body too (no zip bombs)
                raw = await inflated(raw, encodings, server.max_body_bytes)
            ctx.raw_body = raw
            body = parse_json_body(raw)
            if "prompt_id" in body and self._alternate is not None:  # managed prompt (chat routes only)
                body = await deps.prompts.expand(ctx, body, headers)
            ctx.body = body
            if self._alternate is not None:
                spec = self._alternate(body, headers) or spec
            ctx.requested_model = require_model(body)
            spec.check(body)
            surface = spec.make(headers)
            ctx.stream = body.get("stream") is True
            ctx.options = route_options(headers, deps.retry_default)
            ring = await deps.keyrings.get(ctx.principal.org.id)
            ctx.model_override = model_override(headers, deps.registry)  # Helicone-Model-Override
            handler = handler_of(headers)  # Helicone-Token-Limit-Exception-Handler (400 when unknown)
            if handler is not None:
                body, ctx.requested_model = fit_request(
                    handler, body, ctx.requested_model, ctx.model_override, deps.planner, ring
                )
                ctx.body = body
            caller = caller_key(headers) if ctx.principal.org.allow_caller_provider_keys else None
            plan = (  # Helicone proxy style: the caller's own provider key, for this request only (caller_keys.py)
                caller_plan(
                    deps.planner, ctx.requested_model, *caller, ctx.principal.org.id, deps.keyrings.policy
                )
                if caller
                else deps.planner.plan(ctx.requested_model, ring)
            )
            attempts = restrict(plan, ctx.principal.key.allowed_models)
            admission = await deps.limits.admit(
                ctx, attempts
            )  # 400 bad n/policy/price, 429 over a limit, 503
            attempts = admission.attempts(attempts)  # less those a USD budget cannot bound
            out_headers += admission.headers
            # Responses to a bridged provider: previous_response_id / item_reference resolved from kept answers
            await deps.responses.prepare(ctx.principal.org.id, body, surface, attempts)
            ticket = await cache_lookup(deps, ctx, headers, body, surface.kind)  # None: caching off
            if ticket is not None:
                out_headers += ticket.response_headers
                if ticket.hit is not None:
                    return await send_hit(send, ctx, ticket, out_headers)
            reply = send if ticket is None else ticket.recording(send)  # keeps the sent bytes when saving
            if ctx.stream:
                await self._stream(ctx, attempts, body, surface, spec, receive, reply, out_headers)
            else:
                result = await deps.executor.complete(ctx, attempts, body, surface)
                ctx.status = 200
                await send_response(reply, 200, result, out_headers + _outcome_headers(ctx))
            if ticket is not None:
                ticket.answered(ctx)  # schedules the save of a clean 200; never delays or fails the answer
            deps.responses.keep(
                ctx.principal.org.id, surface
            )  # a bridged Responses answer, queued to be kept
        except GatewayError as e:
            ctx.status, ctx.error = e.status, e.message
            payload = spec.error_body(e)
            ctx.response_body = payload
            extra = [(k.encode(), v.encode()) for k, v in e.headers.items()]
            with contextlib.suppress(OSError):
                await send_response(send, e.status, payload, out_headers + extra)
        except ConnectionError:
            ctx.status, ctx.error = 499, "client disconnected before the request was read"
        except (
            Exception
        ):  # a bug, not bad input: answer in the caller's shape, keep the trace in the server log
            log.exception("unhandled error serving %s (request %s)", ctx.path, h.request_id)
            ctx.status, ctx.error = 500, "internal gateway error"
            err = GatewayError(
                500, f"Internal gateway error (request {h.request_id}).", code="internal_error"
            )
            with contextlib.suppress(OSError, RuntimeError):
                await send_response(send, 500, spec.error_body(err), out_headers)
        finally:
            if admission is not None:
                deps.limits.finish(admission, ctx)  # real cost and tokens; never delays the answer
            if ctx.principal is not None:
                deps.request_ids.release(ctx.principal.org.id, h)
                deps.sink.submit(
                    build_record(
                        ctx,
                        store_bodies=deps.settings.log.store_bodies,
                        max_body_bytes=deps.settings.log.max_body_bytes,
                    )
                )
            if (
                deps.tracing is not None
            ):  # spans from the finished request; export is batched on another thread
                deps.tracing.record(ctx, headers)
            cache = "hit" if ctx.cache_hit else "off" if ticket is None else "miss"
            deps.metrics.finished(ctx, cache)
            if deps.access_log is not None:
                deps.access_log.write(ctx, cache)

    async def _stream(
        self,
        ctx: RequestContext,
        attempts: list[Any],
        body: dict[str, Any],
        surface: Any,
        spec: SurfaceSpec,
        receive: Receive,
        send: Send,
        out_headers: list[tuple[bytes, bytes]],
    ) -> None:
        opts = body.get("stream_options")
        include_usage = spec.always_usage or (isinstance(opts, dict) and opts.get("include_usage") is True)
        stream = await self.deps.executor.open_stream(ctx, attempts, body, surface, include_usage)
        sent: list[bool] = [False]  # every byte of the answer handed to the server (only the end marker left)
        pump = asyncio.ensure_future(self._pump(ctx, stream, send, out_headers, sent))
        watch = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await asyncio.wait((pump, watch), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not pump.done():  # the caller went away: stop the upstream too
                pump.cancel()
                # a client that leaves right after the end marker (`[DONE]`, a stop reason) read the whole answer
                if not sent[0] and not getattr(stream.pump, "finished", False):
                    ctx.error = "client disconnected during the stream"
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
            watch.cancel()
            stream.finish()
            stream.close()
        if pump.done() and not pump.cancelled() and pump.exception() is not None:
            raise pump.exception()  # type: ignore[misc]

    async def _pump(
        self,
        ctx: RequestContext,
        stream: Any,
        send: Send,
        out_headers: list[tuple[bytes, bytes]],
        sent: list[bool],
    ) -> None:
        ctx.mark_first_token()
        ctx.status = 200
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": _SSE_HEADERS + out_headers + _outcome_headers(ctx),
            }
        )
        try:
            await send({"type": "http.response.body", "body": stream.first, "more_body": True})
            async for out in stream.rest():
                await send({"type": "http.response.body", "body": out, "more_body": True})
            sent[0] = True
        except UpstreamError as e:
            ctx.error = f"stream interrupted: {redact(e.message)}"
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": stream.error_bytes(e), "more_body": True})
        except OSError:
            ctx.error = "client disconnected during the stream"
            return
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return


def _outcome_headers(ctx: RequestContext) -> list[tuple[bytes, bytes]]:
    out = [(b"switchyard-overhead-ms", f"{ctx.overhead_ms():.3f}".encode())]
    if ctx.provider:
        out.append((b"helicone-provider", ctx.provider.encode()))
    return out
