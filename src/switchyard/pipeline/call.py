"""One call to one upstream: build the request (native or translated), sign, send, read or start the stream.

Nothing here decides what happens after a failure — that is `execute.py`. A call never writes to the request
context either: it returns an `Answer` (or a `StreamStart`) and the executor applies the winner's, which is what
lets hedged attempts run side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..providers.anthropic.cache_breakpoint import with_breakpoint
from ..providers.base import Provider, UpstreamError
from ..providers.param_rules import fit
from ..providers.scrub import scrub
from ..providers.transport import Timeouts, Transport, UpstreamResponse
from .context import RequestContext
from .plan import Attempt
from .stream_pumps import PassthroughPump, RawPump, ReframingPump, ResponsesPump, TranslatingPump


@dataclass(slots=True)
class Answer:
    data: bytes  # what the caller gets
    usage: Any
    model: Any
    logged: Any  # what the log keeps as the response body
    adjustments: list[str] = field(default_factory=list)  # what was changed so the model accepts the request


@dataclass(slots=True)
class StreamStart:
    """An upstream stream that has produced the caller's first content: `first` is ready to send."""

    resp: UpstreamResponse
    pump: Any
    chunks: Any  # the rest of the upstream body (an async iterator), None when it already ended
    first: bytes
    adjustments: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.resp.close()


class Caller:
    def __init__(self, transport: Transport, providers: Mapping[str, Provider]) -> None:
        self.transport = transport
        self.providers = providers

    def _provider(self, attempt: Attempt) -> Provider:
        try:  # subscription: a providers.formats.Translators makes the format's translator on first use
            return self.providers[attempt.target.format]
        except KeyError:
            raise UpstreamError(
                501, "unsupported", f"the {attempt.target.format} wire format is not available in this build"
            ) from None

    async def _signed(
        self, ctx: RequestContext, attempt: Attempt, body: dict[str, Any], surface: Any
    ) -> tuple[Any, Provider, bool]:
        req, provider, native = self._request(ctx, attempt, body, surface)
        if attempt.target.egress is not None:  # BYOK: the organisation's config chose the host (byok_egress)
            attempt.target.egress.check(req.url)
        adjustments = req.adjustments
        req = await provider.sign(
            req, attempt.target
        )  # Bedrock (SigV4) and Vertex (OAuth) sign after building
        req.adjustments = adjustments
        return req, provider, native

    def _request(
        self, ctx: RequestContext, attempt: Attempt, body: dict[str, Any], surface: Any
    ) -> tuple[Any, Provider, bool]:
        provider = self._provider(attempt)
        kind = surface.kind
        model = attempt.model
        if model is not None and (model.kind == "embedding") != (kind == "embeddings"):
            wanted = "an embedding model" if kind == "embeddings" else "a chat model"
            article = "an" if model.kind[0] in "aeiou" else "a"
            raise UpstreamError(
                400,
                "bad_request",
                f"{attempt.route} is {article} {model.kind} model; this endpoint needs {wanted}.",
                param="model",
            )
        if (
            provider.serves_natively(
                attempt.target, kind
            )  # per model, where one format hosts several families
            and _serves_natively(attempt, kind)
            and not _needs_translation(attempt, kind, body)
        ):
            body, notes = _fit(attempt, body, kind)
            req = provider.native_request(body, attempt.target, kind, ctx.forward_headers)
            req.adjustments[:0] = notes
            return req, provider, True
        if getattr(surface, "no_mapping", False):
            raise UpstreamError(
                400,
                "unsupported",
                f"Helicone-Gateway-Body-Mapping: NO_MAPPING needs a provider that "
                f"speaks the caller's format natively; {attempt.provider.id} does not",
            )
        if (
            kind == "embeddings"
        ):  # the provider refuses (kind `unsupported`) when its format has no embeddings
            return provider.build_embeddings(body, attempt.target), provider, False
        chat, notes = _fit(attempt, surface.request(body), "chat")
        req = provider.build_request(chat, attempt.target)
        req.adjustments[:0] = notes
        return req, provider, False

    async def _send(self, req: Any, provider: Provider, timeouts: Timeouts, target: Any) -> UpstreamResponse:
        try:
            resp = await self.transport.send(req, timeouts)
        except UpstreamError as e:  # a transport message may quote the URL, and some providers put keys in it
            e.message = scrub(e.message, target)
            e.adjustments = req.adjustments
            raise
        if not 200 <= resp.status < 300:
            data = await resp.read()
            err = provider.parse_error(resp.status, resp.headers, data)
            err.message = scrub(err.message, target)
            err.adjustments = req.adjustments
            flag = resp.headers.get("x-should-retry")
            if flag is not None:
                err.should_retry = flag.strip().lower() == "true"
            raise err
        return resp

    # -- non-stream ------------------------------------------------------------------------------
    async def complete(
        self, ctx: RequestContext, attempt: Attempt, body: dict[str, Any], surface: Any, timeouts: Timeouts
    ) -> Answer:
        req, provider, native = await self._signed(ctx, attempt, body, surface)
        resp = await self._send(req, provider, timeouts, attempt.target)
        data = await resp.read()
        try:
            answer = _answer(data, attempt, provider, native, body, surface)
            answer.adjustments = req.adjustments
            return answer
        except UpstreamError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, IndexError):
            # a 200 whose body the translator cannot read: the provider's fault, so the next attempt may serve
            raise UpstreamError(
                502, "server", f"{attempt.provider.id} answered 200 with a body the gateway could not read"
            ) from None

    # -- stream ----------------------------------------------------------------------------------
    async def open_stream(
        self,
        ctx: RequestContext,
        attempt: Attempt,
        body: dict[str, Any],
        surface: Any,
        include_usage: bool,
        timeouts: Timeouts,
    ) -> StreamStart:
        """Open the upstream stream and read until the caller's first content (role-only preambles are held back,
        so a stream that fails before saying anything can still fall back). Closes the upstream on failure."""
        req, provider, native = await self._signed(ctx, attempt, body, surface)
        resp = await self._send(req, provider, timeouts, attempt.target)
        try:
            pump = _pump(surface, provider, native, include_usage)
            chunks: Any = resp.iter_chunks()
            held: list[bytes] = []
            async for data in chunks:
                out = _feed(pump, data)
                if out:
                    held.append(out)
                if pump.has_output:
                    break
            else:
                held.append(_close(pump))
                chunks = None
            return StreamStart(resp, pump, chunks, b"".join(held), req.adjustments)
        except UpstreamError as e:
            resp.close()
            e.message = scrub(e.message, attempt.target)
            raise
        except BaseException:
            resp.close()
            raise


def _feed(pump: Any, data: bytes) -> bytes:
    try:
        return pump.feed(data)
    except UpstreamError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        raise UpstreamError(502, "server", "upstream sent a stream the gateway could not read") from None


def _close(pump: Any) -> bytes:
    try:
        return pump.close()
    except UpstreamError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        raise UpstreamError(
            502, "server", "upstream stream ended in a state the gateway could not read"
        ) from None


def _answer(
    data: bytes, attempt: Attempt, provider: Provider, native: bool, body: dict[str, Any], surface: Any
) -> Answer:
    if native:
        # same format both sides: the bytes go back untouched; decode only what the log needs
        parsed = provider.parse_native(data, surface.kind)
        logged = loggable(parsed) if surface.kind == "embeddings" else data
        return Answer(data, parsed.get("usage"), parsed.get("model"), logged)
    if surface.kind == "embeddings":  # translated embeddings: the provider answers in OpenAI's list shape
        out = provider.parse_embeddings(data, body, attempt.provider_model_id)
        usage = out.get("usage")
        return Answer(
            orjson.dumps(out),
            usage if usage and usage.get("prompt_tokens") else None,
            out.get("model"),
            loggable(out),
        )
    completion = provider.parse_response(data)
    out = surface.response(completion)
    return Answer(orjson.dumps(out), completion.get("usage"), completion.get("model"), out)


def _fit(attempt: Attempt, body: dict[str, Any], kind: str) -> tuple[dict[str, Any], list[str]]:
    """The registry's parameter rules and output ceiling for this attempt's model, applied to the body in the
    format the upstream receives (`providers/param_rules.py`); the caller's dict is left as it was."""
    rules = attempt.endpoint.rules if attempt.endpoint is not None else None
    body, notes = fit(body, kind, rules, attempt.target.config.get("max_output"))
    return with_breakpoint(body, kind, attempt.target, notes)  # Claude's automatic prompt caching, if on


def _needs_translation(attempt: Attempt, kind: str, body: dict[str, Any]) -> bool:
    """An Anthropic caller asking for structured outputs of a Claude model that has none natively (the registry does not
    say `structured_output: native`) goes through the translator, which uses a forced tool and answers with the JSON as
    text, instead of being passed through to a refusal."""
    if kind != "messages" or attempt.target.config.get("json_schema_mode") == "native":
        return False
    config = body.get("output_config")
    return body.get("output_format") is not None or (
        isinstance(config, dict) and config.get("format") is not None
    )


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
        parser = provider.native_parser(surface.kind)
        reframer = provider.native_reframer(surface.kind)
        return ReframingPump(reframer, parser) if reframer is not None else RawPump(parser)
    if surface.kind == "responses":
        return ResponsesPump()
    return PassthroughPump(include_usage, surface.object_name)


def loggable(embeddings: dict[str, Any]) -> dict[str, Any]:
    """An embeddings answer for the log: everything but the vectors themselves (megabytes of floats)."""
    out = {k: v for k, v in embeddings.items() if k != "data"}
    out["data_count"] = len(embeddings.get("data") or ())
    return out
