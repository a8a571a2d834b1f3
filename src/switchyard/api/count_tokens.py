"""`POST /v1/messages/count_tokens` (Anthropic's token counting): raw ASGI like the proxy routes, errors in
Anthropic's shape, logged like any request (no cost, no completion). See pipeline/count_tokens.py for who counts.

Same order as a proxy route up to the plan: authenticate (headers), read the body under the size limit and
deadline (compressed bodies inflated), parse, check `model` and `messages`. Rate limits and budgets are not
charged: counting costs nothing upstream.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from ..errors import GatewayError, bad_request
from ..pipeline.caller_body import parse_json_body, require_model
from ..pipeline.context import RequestContext
from ..pipeline.count_tokens import count
from ..pipeline.headers import header_map, parse_helicone
from ..pipeline.plan import restrict
from ..pipeline.record import build_record
from .asgi import Receive, Scope, Send, declared_length, read_body, send_response
from .content_encoding import check as check_encodings
from .content_encoding import codings, inflated
from .surfaces import MESSAGES

log = logging.getLogger("switchyard.count_tokens")


class CountTokensRoute:
    spec = MESSAGES  # errors in Anthropic's shape (also the gateway's 503 when it is at its in-flight limit)

    def __init__(self, deps: Any) -> None:
        self.deps = deps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        deps = self.deps
        headers = header_map(scope["headers"])
        h = parse_helicone(headers)
        ctx = RequestContext(path=scope["path"], helicone=h, forward_headers=headers)
        out_headers = [(b"helicone-id", h.request_id.encode())]
        try:
            ctx.principal = await deps.auth.authenticate(headers)
            deps.request_ids.claim(ctx.principal.org.id, h)
            server = deps.settings.server
            encodings = codings(scope["headers"])
            check_encodings(encodings)
            raw = await read_body(
                receive,
                server.max_body_bytes,
                timeout=server.body_timeout_seconds,
                declared=declared_length(scope["headers"]),
            )
            if encodings:
                raw = await inflated(raw, encodings, server.max_body_bytes)
            ctx.raw_body = raw
            body = parse_json_body(raw)
            ctx.body = body
            ctx.requested_model = require_model(body)
            if not isinstance(body.get("messages"), list):
                raise bad_request("messages: Field required (a list of messages).", param="messages")
            ring = await deps.keyrings.get(ctx.principal.org.id)
            attempts = restrict(
                deps.planner.plan(ctx.requested_model, ring), ctx.principal.key.allowed_models
            )
            result = await count(deps.executor, ctx, attempts, body)
            ctx.status = 200
            ctx.response_body = result.decode()
            await send_response(send, 200, result, out_headers)
        except GatewayError as e:
            ctx.status, ctx.error = e.status, e.message
            payload = e.anthropic_body()
            ctx.response_body = payload
            extra = [(k.encode(), v.encode()) for k, v in e.headers.items()]
            with contextlib.suppress(OSError):
                await send_response(send, e.status, payload, out_headers + extra)
        except ConnectionError:
            ctx.status, ctx.error = 499, "client disconnected before the request was read"
        except Exception:  # a bug: answer in Anthropic's shape, keep the trace in the server log
            log.exception("unhandled error serving %s (request %s)", ctx.path, h.request_id)
            ctx.status, ctx.error = 500, "internal gateway error"
            err = GatewayError(
                500, f"Internal gateway error (request {h.request_id}).", code="internal_error"
            )
            with contextlib.suppress(OSError, RuntimeError):
                await send_response(send, 500, err.anthropic_body(), out_headers)
        finally:
            if ctx.principal is not None:
                deps.request_ids.release(ctx.principal.org.id, h)
                log_cfg = deps.settings.log
                deps.sink.submit(
                    build_record(
                        ctx, store_bodies=log_cfg.store_bodies, max_body_bytes=log_cfg.max_body_bytes
                    )
                )
            deps.metrics.finished(ctx, "off")
