"""`POST /v1/messages/count_tokens`: Anthropic's token count, asked of the first Claude upstream in the plan.

The plan is the one a message to the same model string would get (BYOK keys, the key's allow-list); only its
Claude attempts (Anthropic, Bedrock, Vertex AI) can count, in plan order; a rate-limited, overloaded or failing
upstream moves on to the next, a refusal (400) is the caller's answer. A plan with no Claude attempt is a 400
that says counting is only available for Claude models: the gateway does not estimate (an estimate from
another tokenizer is wrong by 10-30% for Claude, and a silent 0 breaks context management).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ..errors import GatewayError
from ..providers.base import UpstreamError
from ..providers.formats import translator
from ..providers.scrub import scrub
from .context import RequestContext
from .fallback import final_error

_MOVE_ON = ("rate_limited", "overloaded", "timeout", "server", "auth", "unsupported")


def not_countable(model: str, attempts: list[Any]) -> GatewayError:
    served = sorted({a.provider.id for a in attempts})
    by = f" (served here by {', '.join(served)})" if served else ""
    return GatewayError(
        400,
        f"Token counting is only available for Claude models (Anthropic, Amazon Bedrock, Google "
        f"Vertex AI); '{model}'{by} has no counting API, and the gateway does not estimate.",
        code="count_tokens_unsupported",
        param="model",
    )


async def count(executor: Any, ctx: RequestContext, attempts: list[Any], body: dict[str, Any]) -> bytes:
    """`{"input_tokens": N}` from the first Claude attempt that answers. Raises GatewayError."""
    countable = [a for a in attempts if _counts(translator(executor.providers, a.target.format), a.target)]
    if not countable:
        raise not_countable(ctx.requested_model or "", attempts)
    errors: list[tuple[Any, UpstreamError]] = []
    for attempt in countable:
        provider = executor.providers[attempt.target.format]
        started = time.perf_counter()
        try:
            n = await _one(executor, ctx, attempt, provider, body)
        except UpstreamError as e:
            e.message = scrub(e.message, attempt.target)
            errors.append((attempt, e))
            if e.kind not in _MOVE_ON:
                break
            continue
        finally:
            ctx.upstream_ms += (time.perf_counter() - started) * 1000
        ctx.provider, ctx.model = attempt.provider.id, attempt.provider_model_id
        ctx.registry_model = attempt.model.id if attempt.model else None
        ctx.response_body = result = orjson.dumps({"input_tokens": n})
        return result
    raise final_error(errors)


def _counts(provider: Any, target: Any) -> bool:
    return provider is not None and provider.counts_tokens(target)


async def _one(executor: Any, ctx: RequestContext, attempt: Any, provider: Any, body: dict[str, Any]) -> int:
    req = provider.count_request(body, attempt.target, ctx.forward_headers)
    if attempt.target.egress is not None:  # BYOK: the organisation's config chose the host
        attempt.target.egress.check(req.url)
    req = await provider.sign(req, attempt.target)
    resp = await executor.transport.send(req, executor.timeouts(ctx, attempt))
    data = await resp.read()
    if not 200 <= resp.status < 300:
        raise provider.parse_error(resp.status, resp.headers, data)
    return provider.parse_count(data, attempt.target)
