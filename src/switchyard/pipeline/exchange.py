"""One proxied request as the pipeline carries it (`Exchange`), and what it needs of the caller's route.

`handle.py` makes the exchange and hands it to each step; the executor, the committed stream and the cache step
read what they need from it instead of a (context, attempts, body, surface) tuple passed hop to hop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import GatewayError
from .context import RequestContext

if TYPE_CHECKING:
    from .cache_ticket import CacheTicket
    from .plan import Attempt


class Surface(Protocol):
    """The caller's codec for one request (`formats/`): its kind, how its body becomes the OpenAI chat lingua
    franca, and how answers, stream chunks and errors are written back in its format."""

    kind: str  # "chat", "completions", "messages", "responses", "embeddings"
    object_name: str
    upstream_path: str

    def request(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def response(self, completion: dict[str, Any]) -> dict[str, Any]: ...
    def chunk(self, chunk: dict[str, Any]) -> bytes: ...
    def done(self) -> bytes: ...
    def error_event(self, err: GatewayError) -> bytes: ...


class SurfaceSpec(Protocol):
    """A route's caller surface (`api/surfaces.py`): `make(headers)` the caller's codec for one request;
    `check(body, surface)` the body to execute (the caller's dict is never changed), GatewayError (400) when no
    provider could serve it; errors in the caller's shape."""

    @property
    def always_usage(self) -> bool: ...  # the caller's format always carries usage in streams

    @property
    def counts_tokens(self) -> bool: ...  # Anthropic's count_tokens: the plan counts, nothing is generated

    @property
    def make(self) -> Callable[[dict[str, str]], Surface]: ...

    @property
    def check(self) -> Callable[[dict[str, Any], Surface], dict[str, Any]]: ...

    def error_body(self, e: GatewayError) -> bytes: ...


class Route(Protocol):
    """The HTTP route a request came in on: its surface, and (chat only) another surface picked per body."""

    @property
    def spec(self) -> SurfaceSpec: ...

    @property
    def alternate(self) -> Any: ...  # (body, headers) -> SurfaceSpec | None, or None


@dataclass(slots=True)
class Exchange:
    """One request in the pipeline: who asked and what happened (`ctx`), what is executed (`body`, which is the
    caller's parsed dict unless a step rewrote it), against which plan (`attempts`), for which caller format."""

    ctx: RequestContext
    spec: SurfaceSpec
    headers: dict[str, str]  # the caller's headers, lowercase names
    out_headers: list[tuple[bytes, bytes]]  # headers every answer carries (request id, rate limits, cache)
    surface: Surface | None = None  # once the body is parsed (the route's spec, or its alternate, makes it)
    body: dict[str, Any] = field(default_factory=dict)  # empty until the body is read
    attempts: list[Attempt] = field(default_factory=list)
    include_usage: bool = False  # a stream's caller gets the usage chunk
    admission: Any = None  # pipeline.limits.Admission: rate limits and budgets held until the end
    ticket: CacheTicket | None = None  # the response cache's dealings (None: caching not asked for)

    def stream_usage(self) -> bool:
        """Whether a stream's caller gets the usage chunk: always in some formats, else when it asked."""
        opts = self.body.get("stream_options")
        return self.spec.always_usage or (isinstance(opts, dict) and opts.get("include_usage") is True)

    def rewrite(self, body: dict[str, Any], by: str) -> None:
        """A step replaced the body (managed prompt, token-limit handler): the log keeps this body and says who
        rewrote it, instead of the caller's bytes."""
        if body is not self.body:
            self.body = self.ctx.body = body
            ctx = self.ctx
            ctx.rewritten_by = by if ctx.rewritten_by is None else f"{ctx.rewritten_by}, {by}"
