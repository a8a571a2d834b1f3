"""The owner of a proxied request: its steps in order, top to bottom, and what the HTTP layer gets back.

    auth → read/parse → prompt, surface check → options → plan → limits → cache → execute → reply
                                                         └→ count (count_tokens)       (record: finish.py)

`handle` returns a `Reply` (bytes, status, headers) or a `StreamReply` for the HTTP layer (`api/proxy.py`) to
write; errors become a `Reply` in the caller's wire format here. The request is finished (limits settled, record
queued: `finish.py`) when the HTTP layer closes the reply after writing it, so the answer goes out first; a request
cancelled before it has a reply is finished here.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from ..errors import GatewayError
from .auth import Principal
from .cache_ticket import hit_reply, lookup
from .caller_body import parse_json_body, require_model
from .caller_keys import caller_key, caller_plan
from .context import RequestContext
from .count_tokens import count
from .exchange import Exchange, Route
from .finish import finish
from .headers import parse_helicone_names, read_headers
from .model_override import model_override
from .options import route_options
from .plan import Attempt, restrict
from .reply import Reply, StreamReply, answered, broken, left_early, refused
from .token_limit import fit_request, handler_of


class Request(Protocol):
    """The HTTP layer's request: path and raw headers now, the body only when asked (after authentication)."""

    path: str
    raw_headers: list[tuple[bytes, bytes]]

    def read_body(
        self,
    ) -> Awaitable[bytes]: ...  # size, deadline, Content-Encoding: GatewayError 413/408/415;

    # ConnectionError when the caller leaves before sending it all


async def handle(deps: Any, route: Route, request: Request) -> Reply | StreamReply:
    headers, helicone_names = read_headers(request.raw_headers)
    h = parse_helicone_names(headers, helicone_names)
    ctx = RequestContext(request.path, h, headers)  # positional: a third of the call's cost goes on keywords
    x = Exchange(ctx, route.spec, headers, [(b"helicone-id", h.request_id.encode())])
    reply: Reply | StreamReply
    try:
        # who asks: the key is in the headers, so a caller without one is refused before its body is read
        who = ctx.principal = await deps.auth.authenticate(headers)
        org_id = who.org.id
        deps.request_ids.claim(org_id, h)  # 409 while this organisation runs a request with the same id
        # what they sent, as sent (the log keeps these bytes unless a step below rewrites the body)
        ctx.raw_body = await request.read_body()
        x.body = ctx.body = parse_json_body(ctx.raw_body)
        if "prompt_id" in x.body and route.alternate is not None:  # managed prompt (chat routes only)
            x.rewrite(await deps.prompts.expand(ctx, x.body, headers), "prompt")
        if route.alternate is not None:  # a Responses-shaped body on the chat route
            x.spec = route.alternate(x.body, headers) or x.spec
        model = ctx.requested_model = require_model(x.body)
        x.surface = x.spec.make(headers)
        x.body = ctx.body = x.spec.check(x.body, x.surface)  # 400s; an Anthropic body is translated once here
        ctx.stream = x.body.get("stream") is True
        # how: routing options, Helicone-Model-Override, the plan (after the token-limit handler)
        ctx.options = route_options(headers, deps.retry_default)
        ctx.model_override = model_override(headers, deps.registry)
        x.attempts = _plan(deps, x, who, model, await deps.keyrings.get(org_id))
        if x.spec.counts_tokens:  # count_tokens: a Claude attempt counts; nothing is generated or charged
            return _ends(answered(x, await count(deps.executor, ctx, x.attempts, x.body)), deps, x)
        # may it: rate limits and budgets (400 bad n/policy/price, 429 over a limit, 503)
        x.admission = await deps.limits.admit(ctx, x.attempts)
        x.attempts = x.admission.attempts(x.attempts)  # less those a USD budget cannot bound
        x.out_headers += x.admission.headers
        # Responses to a bridged provider: previous_response_id / item_reference resolved from kept answers
        await deps.responses.prepare(org_id, x.body, x.surface, x.attempts)
        # answered before: the response cache (None when the request does not ask for it)
        x.ticket = await lookup(deps, x)
        if x.ticket is not None and x.ticket.hit is not None:
            reply = hit_reply(x, x.ticket.hit)
        # execute: attempts in order (or hedged) until one answers; a stream commits at its first content
        elif ctx.stream:
            x.include_usage = x.stream_usage()
            # finished when the HTTP layer has written it and closes it
            return StreamReply(deps, x, await deps.executor.open_stream(x))
        else:
            data = await deps.executor.complete(x)
            if x.ticket is not None:
                x.ticket.keep(data)
            reply = answered(x, data)
    except GatewayError as e:
        reply = refused(x, e)  # in the caller's format
    except ConnectionError:
        reply = left_early(x)
    except Exception:  # a bug, not bad input
        reply = broken(x)
    except BaseException:  # cancelled, the server stopping: nothing is written, the request still ends
        finish(deps, x)
        raise
    return _ends(reply, deps, x)


def _ends(reply: Reply, deps: Any, x: Exchange) -> Reply:
    """The reply finishes the request when the HTTP layer closes it (record: limits settled, id released, row
    queued: finish.py)."""
    reply.ending = (deps, x)
    return reply


def _plan(deps: Any, x: Exchange, who: Principal, model: str, ring: Any) -> list[Attempt]:
    """The attempts for the model field with the organisation's keys (after the token-limit handler, which may
    rewrite the body or pick the fallback), filtered by the key's allow-list."""
    ctx = x.ctx
    # Helicone-Token-Limit-Exception-Handler (400 when unknown); never for a count: it would change what is counted
    handler = None if x.spec.counts_tokens else handler_of(x.headers)
    if handler is not None:
        body, model = fit_request(handler, x.body, model, ctx.model_override, deps.planner, ring)
        x.rewrite(body, f"token-limit {handler}")
    ctx.requested_model = model
    caller = caller_key(x.headers) if who.org.allow_caller_provider_keys else None
    plan = (  # Helicone proxy style: the caller's own provider key, for this request only (caller_keys.py)
        caller_plan(deps.planner, model, *caller, who.org.id, deps.keyrings.policy)
        if caller
        else deps.planner.plan(model, ring)
    )
    return restrict(plan, who.key.allowed_models)
