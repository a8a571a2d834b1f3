"""Execute a plan: one attempt after another until one answers.

Non-stream: send, read, translate back. Stream: open the upstream and read until the first caller bytes are
ready; only then commit (send the response head). Before the commit any failure falls through to the next
attempt; after it, a failure ends the stream with an error event in the caller's format.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import GatewayError, redact
from ..observe.cost import cost_usd, read_usage
from ..providers.base import Provider, UpstreamError
from ..providers.transport import Transport, UpstreamResponse
from .context import AttemptLog, RequestContext
from .plan import Attempt
from .streaming import PassthroughPump, RawPump, ReframingPump, ResponsesPump, TranslatingPump

# Failures after which the next attempt is tried; a plain bad request stops (any provider would reject it).
_MOVES_ON = {"connection", "timeout", "rate_limited", "overloaded", "server", "auth", "not_found", "context_length",
             "unsupported"}


class Executor:
    def __init__(self, transport: Transport, providers: Mapping[str, Provider]) -> None:
        self.transport = transport
        self.providers = providers

    def _provider(self, attempt: Attempt) -> Provider:
        p = self.providers.get(attempt.target.format)
        if p is None:
            raise UpstreamError(501, "server", f"the {attempt.target.format} wire format is not available in this build")
        return p

    async def _signed(self, ctx: RequestContext, attempt: Attempt, body: dict[str, Any],
                      surface: Any) -> tuple[Any, Provider, bool]:
        req, provider, native = self._request(ctx, attempt, body, surface)
        sign = getattr(provider, "sign", None)  # Bedrock (SigV4) and Vertex (OAuth) sign after building
        if sign is not None:
            req = await sign(req, attempt.target)
        return req, provider, native

    def _request(self, ctx: RequestContext, attempt: Attempt, body: dict[str, Any],
                 surface: Any) -> tuple[Any, Provider, bool]:
        provider = self._provider(attempt)
        kind = surface.kind
        model = attempt.model
        if model is not None and (model.kind == "embedding") != (kind == "embeddings"):
            wanted = "an embedding model" if kind == "embeddings" else "a chat model"
            article = "an" if model.kind[0] in "aeiou" else "a"
            raise UpstreamError(400, "bad_request", f"{attempt.source} is {article} {model.kind} model; "
                                f"this endpoint needs {wanted}.", param="model")
        serves = getattr(provider, "serves_natively", None)  # per model, where one provider hosts several families
        if (kind in getattr(provider, "native_kinds", ()) and _serves_natively(attempt, kind)
                and (serves is None or serves(attempt.target, kind))):
            return provider.native_request(body, attempt.target, kind, ctx.forward_headers), provider, True  # type: ignore[attr-defined]
        if getattr(surface, "no_mapping", False):
            raise UpstreamError(400, "unsupported", f"Helicone-Gateway-Body-Mapping: NO_MAPPING needs a provider that "
                                f"speaks the caller's format natively; {attempt.provider.id} does not")
        if kind == "embeddings":
            build = getattr(provider, "build_embeddings", None)
            if build is None:
                raise UpstreamError(400, "unsupported", f"provider {attempt.provider.id} has no embeddings API here")
            return build(body, attempt.target), provider, False
        return provider.build_request(surface.request(body), attempt.target), provider, False

    # -- non-stream ------------------------------------------------------------------------------
    async def complete(self, ctx: RequestContext, attempts: list[Attempt], body: dict[str, Any], surface: Any) -> bytes:
        errors: list[tuple[Attempt, UpstreamError]] = []
        for attempt in attempts:
            alog = AttemptLog(attempt.provider.id, attempt.provider_model_id)
            ctx.attempts.append(alog)
            t0 = time.perf_counter()
            try:
                out = await self._complete_once(ctx, attempt, body, surface)
            except UpstreamError as e:
                _failed(alog, e, t0, ctx)
                errors.append((attempt, e))
                if e.kind not in _MOVES_ON:
                    break
                continue
            alog.status = 200
            alog.latency_ms = (time.perf_counter() - t0) * 1000
            ctx.upstream_ms += alog.latency_ms
            return out
        raise final_error(errors)

    async def _complete_once(self, ctx: RequestContext, attempt: Attempt, body: dict[str, Any], surface: Any) -> bytes:
        req, provider, native = await self._signed(ctx, attempt, body, surface)
        resp = await self.transport.send(req)
        data = await resp.read()
        if not 200 <= resp.status < 300:
            raise provider.parse_error(resp.status, resp.headers, data)
        if native:
            # same format both sides: the bytes go back untouched; decode only what the log needs
            if surface.kind == "messages":  # usage from the Anthropic answer (Bedrock wraps it differently)
                parsed = getattr(provider, "parse_native", provider.parse_response)(data)
            else:
                parsed = _json_object(data)
            _settle(ctx, attempt, parsed.get("usage"), parsed.get("model"))
            ctx.response_body = _loggable(parsed) if surface.kind == "embeddings" else data
            return data
        if surface.kind == "embeddings":  # translated embeddings: the provider answers in OpenAI's list shape
            out = provider.parse_embeddings(data, body, attempt.provider_model_id)  # type: ignore[attr-defined]
            usage = out.get("usage")
            _settle(ctx, attempt, usage if usage and usage.get("prompt_tokens") else None, out.get("model"))
            ctx.response_body = _loggable(out)
            return orjson.dumps(out)
        completion = provider.parse_response(data)
        _settle(ctx, attempt, completion.get("usage"), completion.get("model"))
        out = surface.response(completion)
        ctx.response_body = out
        return orjson.dumps(out)

    # -- stream ----------------------------------------------------------------------------------
    async def open_stream(
        self, ctx: RequestContext, attempts: list[Attempt], body: dict[str, Any], surface: Any, include_usage: bool
    ) -> OpenStream:
        """Try attempts until one yields its first caller bytes. Raises GatewayError if none does."""
        errors: list[tuple[Attempt, UpstreamError]] = []
        for attempt in attempts:
            alog = AttemptLog(attempt.provider.id, attempt.provider_model_id)
            ctx.attempts.append(alog)
            t0 = time.perf_counter()
            resp: UpstreamResponse | None = None
            try:
                req, provider, native = await self._signed(ctx, attempt, body, surface)
                resp = await self.transport.send(req)
                if not 200 <= resp.status < 300:
                    raise provider.parse_error(resp.status, resp.headers, await resp.read())
                pump = _pump(surface, provider, native, include_usage)
                chunks = resp.iter_chunks()
                first = b""
                async for data in chunks:
                    first = pump.feed(data)
                    if first:
                        break
                else:
                    first = pump.close()
                    chunks = None  # type: ignore[assignment]
            except UpstreamError as e:
                if resp is not None:
                    resp.close()
                _failed(alog, e, t0, ctx)
                errors.append((attempt, e))
                if e.kind not in _MOVES_ON:
                    break
                continue
            alog.status = 200
            alog.latency_ms = (time.perf_counter() - t0) * 1000
            ctx.upstream_ms += alog.latency_ms
            ctx.provider, ctx.model, ctx.registry_model = attempt.provider.id, attempt.provider_model_id, attempt.source
            return OpenStream(ctx, attempt, resp, pump, chunks, first, surface)
        raise final_error(errors)


class OpenStream:
    """A committed-to-be stream: `first` is ready to send; iterate `rest()` for the remainder."""

    def __init__(self, ctx: RequestContext, attempt: Attempt, resp: UpstreamResponse, pump: Any, chunks: Any,
                 first: bytes, surface: Any) -> None:
        self.ctx, self.attempt, self.resp, self.pump = ctx, attempt, resp, pump
        self._chunks, self.first, self.surface = chunks, first, surface

    async def rest(self):  # -> AsyncIterator[bytes]
        if self._chunks is not None:
            async for data in self._chunks:
                out = self.pump.feed(data)
                if out:
                    yield out
            tail = self.pump.close()
            if tail:
                yield tail

    def error_bytes(self, e: UpstreamError) -> bytes:
        err = GatewayError(e.status if e.status >= 400 else 502, redact(e.message), code=e.kind)
        return self.surface.error_event(err)

    def finish(self) -> None:
        """Record usage and cost from what was streamed (also after an interruption)."""
        _settle(self.ctx, self.attempt, self.pump.usage, self.pump.model)
        self.ctx.response_body = self.pump.result()

    def close(self) -> None:
        self.resp.close()


def _serves_natively(attempt: Attempt, kind: str) -> bool:
    if kind == "completions":  # only models that still serve legacy completions (the rest are mapped to chat)
        return (attempt.endpoint.completions if attempt.endpoint else False) or attempt.provider.completions
    if kind == "responses":  # OpenAI and Azure; other OpenAI-compatible APIs are bridged through chat
        return attempt.provider.responses
    return True


def _pump(surface: Any, provider: Provider, native: bool, include_usage: bool) -> Any:
    if not native:
        return TranslatingPump(provider.stream_parser(), surface, include_usage)
    if surface.kind == "messages":
        parser = provider.native_parser() if hasattr(provider, "native_parser") else provider.stream_parser()
        reframer = getattr(provider, "native_reframer", None)
        return ReframingPump(reframer(), parser) if reframer else RawPump(parser)
    if surface.kind == "responses":
        return ResponsesPump()
    return PassthroughPump(include_usage, surface.object_name)


def _loggable(embeddings: dict[str, Any]) -> dict[str, Any]:
    """An embeddings answer for the log: everything but the vectors themselves (megabytes of floats)."""
    out = {k: v for k, v in embeddings.items() if k != "data"}
    out["data_count"] = len(embeddings.get("data") or ())
    return out


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamError(502, "server", "upstream answered 200 with a body that is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamError(502, "server", "upstream answered 200 with JSON that is not an object")
    return parsed


def _settle(ctx: RequestContext, attempt: Attempt, usage: Any, model: Any) -> None:
    ctx.provider = attempt.provider.id
    ctx.model = model if isinstance(model, str) and model else attempt.provider_model_id
    ctx.registry_model = attempt.model.id if attempt.model else None
    u = read_usage(usage)
    if u is not None:
        ctx.usage = u
        ctx.cost_usd = cost_usd(u, attempt.endpoint)


def _failed(alog: AttemptLog, e: UpstreamError, t0: float, ctx: RequestContext) -> None:
    alog.status, alog.error, alog.kind = e.status, redact(e.message), e.kind
    alog.latency_ms = (time.perf_counter() - t0) * 1000
    ctx.upstream_ms += alog.latency_ms


def final_error(errors: list[tuple[Attempt, UpstreamError]]) -> GatewayError:
    """The caller-facing error once every attempt failed: the last upstream error, every attempt in `details`."""
    attempt, e = errors[-1]
    status = e.status if 400 <= e.status < 600 else 502
    message = redact(e.message)
    if e.kind == "auth" and e.status in (401, 403):
        message = f"Provider {attempt.provider.id} rejected the gateway's credentials for it: {message}"
    details = None
    if len(errors) > 1:
        details = [
            {"source": a.source, "status": x.status, "kind": x.kind, "message": redact(x.message)} for a, x in errors
        ]
    headers = {}
    if e.retry_after is not None and status in (429, 503):
        headers["retry-after"] = str(max(1, round(e.retry_after)))
    code = e.code if isinstance(e.code, str) else None
    return GatewayError(status, message, code=code or e.kind, type=e.type, param=e.param, headers=headers, details=details)
