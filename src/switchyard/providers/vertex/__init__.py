"""Google Vertex AI provider: one object serving two model families, chosen per target.

- Gemini models (`gemini*`, or config `family: gemini`): the Gemini translator's body (`generateContent`)
  at `{base}/publishers/google/models/{model}:generateContent` (`:streamGenerateContent?alt=sse`).
- Claude models (`claude*`, or config `family: anthropic`): the Anthropic translator's body without
  `model` and with `anthropic_version: "vertex-2023-10-16"` at
  `{base}/publishers/anthropic/models/{model}:rawPredict` (`:streamRawPredict`). An Anthropic Messages
  caller reaches Claude natively (`native_request`), the body passed through with the same two changes.

`{base}` is `https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}`
(`aiplatform.googleapis.com` for region `global`); see `urls.py` for region/project resolution and
`auth.py` for credentials. `sign` (called by the executor after building) adds the OAuth access token.

Target config keys: `project` / `project_id`, `region`, `default_region`, `cross_region` (→ `global`),
`endpoint` (base URL override), `family`, `anthropic_version`, `access_token`, `credentials_file`, plus the
Anthropic translator's `max_output`, `thinking_mode`, `json_schema_mode` (default `"tool"` here: Vertex
gates Claude structured outputs behind an organization policy and a few models) and the Gemini one's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import orjson

from ..anthropic.request import build_request as anthropic_build_request
from ..base import Provider, Target, UpstreamError, UpstreamRequest
from ..credentials import CredentialSpec
from ..gemini.request import translate as gemini_translate
from .auth import TokenSource, byok_key_problem, default_transport
from .parse import VertexStreamParser, parse_error, parse_response
from .urls import PROJECT_PLACEHOLDER, base_url, family, method_url, model_id, require_family

__all__ = ["VertexProvider", "VertexStreamParser"]

ANTHROPIC_VERSION = "vertex-2023-10-16"
_DROPPED_HEADERS = frozenset({"anthropic-version", "x-api-key", "authorization"})


class VertexProvider(Provider):
    """OpenAI chat ⇄ Vertex AI (Gemini or Claude). `clock` stamps `created`; `token_clock` times tokens."""

    name = "vertex"
    native_kinds = frozenset({"messages"})  # Claude only: `native_request` refuses Gemini targets
    # An organisation's key: service-account JSON (token_uri Google's) or an access token, never a file path.
    credentials = CredentialSpec(
        config=frozenset({"base_url", "project", "region", "location", "endpoint", "cross_region"}),
        egress_hosts=("*-aiplatform.googleapis.com", "aiplatform.googleapis.com"),
        key_problem=byok_key_problem,
    )
    needs_base_url = False  # the region's endpoint

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        token_clock: Callable[[], float] = time.time,
        transport_factory: Callable[[], Any] = default_transport,
    ) -> None:
        self._clock = clock
        self.tokens = TokenSource(clock=token_clock, transport_factory=transport_factory)

    # --- requests ---------------------------------------------------------------------------------

    def serves_natively(self, target: Target, kind: str) -> bool:
        """Whether a caller of `kind` can pass through to this target (Anthropic Messages → Claude only)."""
        return kind in self.native_kinds and family(target) == "claude"

    def build_request(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        fam = require_family(target)
        stream = bool(body.get("stream"))
        adjustments: list[str] = []
        if fam == "gemini":
            payload = orjson.dumps(gemini_translate(body))
            headers = {"content-type": "application/json"}
            if stream:
                headers["accept"] = "text/event-stream"
        else:
            bare = dataclasses.replace(
                target,
                api_key=None,
                auth="none",
                base_url="",
                headers={},
                config={"json_schema_mode": "tool", **target.config},
            )
            req = anthropic_build_request(body, bare)
            adjustments = req.adjustments
            out = orjson.loads(req.body)
            out.pop("model", None)
            out["anthropic_version"] = _anthropic_version(target)
            payload = orjson.dumps(out)
            headers = {k: v for k, v in req.headers.items() if k.lower() not in _DROPPED_HEADERS}
        headers.update(target.headers)
        return UpstreamRequest("POST", method_url(target, fam, stream), headers, payload, stream, adjustments)

    def native_request(
        self, body: dict[str, Any], target: Target, kind: str, headers: Mapping[str, str] | None = None
    ) -> UpstreamRequest:
        """An Anthropic Messages body to Claude on Vertex: `model` dropped, `anthropic_version` added, the
        caller's `anthropic-beta` forwarded. Gemini targets refuse (kind `unsupported`: next attempt)."""
        if kind not in self.native_kinds or family(target) != "claude":
            raise UpstreamError(
                400,
                "unsupported",
                f"Vertex AI model {target.model!r} does not speak the Anthropic Messages format natively "
                "(only Claude models do)",
            )
        out = dict(body)
        out.pop("model", None)
        out["anthropic_version"] = _anthropic_version(target)
        stream = out.get("stream") is True
        upstream_headers = {"content-type": "application/json"}
        beta = (headers or {}).get("anthropic-beta")
        if beta:
            upstream_headers["anthropic-beta"] = beta
        upstream_headers.update(target.headers)
        return UpstreamRequest(
            "POST", method_url(target, "claude", stream), upstream_headers, orjson.dumps(out), stream
        )

    def counts_tokens(self, target: Target) -> bool:
        return family(target) == "claude"

    def count_request(
        self, body: dict[str, Any], target: Target, headers: Mapping[str, str] | None = None
    ) -> UpstreamRequest:
        """`POST .../publishers/anthropic/models/count-tokens:rawPredict` with the model id in the body;
        answers `{"input_tokens": N}`."""
        req = self.native_request(
            {k: v for k, v in body.items() if k != "stream"}, target, "messages", headers
        )
        inner = orjson.loads(req.body)
        inner.pop("anthropic_version", None)
        inner["model"] = model_id(target)
        url = f"{base_url(target)}/publishers/anthropic/models/count-tokens:rawPredict"
        return dataclasses.replace(req, url=url, body=orjson.dumps(inner), stream=False)

    async def sign(self, req: UpstreamRequest, target: Target) -> UpstreamRequest:
        """Adds `authorization: Bearer <access token>`; fills a still-unknown project from the credentials."""
        headers = {k: v for k, v in req.headers.items() if k.lower() != "authorization"}
        url = req.url
        if target.auth == "none" and not target.config.get("access_token"):
            project = None  # local mocks: no credentials at all
        else:
            token, project = await self.tokens.get(target)
            headers["authorization"] = f"Bearer {token}"
        if PROJECT_PLACEHOLDER in url:
            if not project:
                raise UpstreamError(
                    400,
                    "unsupported",
                    "Vertex AI needs a Google Cloud project: set VERTEX_PROJECT or GOOGLE_CLOUD_PROJECT, or "
                    "providers.vertex.config.project",
                )
            url = url.replace(PROJECT_PLACEHOLDER, quote(project, safe="-._~"))
        return UpstreamRequest(req.method, url, headers, req.body, req.stream)

    # --- responses ------------------------------------------------------------------------------

    def parse_response(self, body: bytes) -> dict[str, Any]:
        return parse_response(body, created=int(self._clock()))

    def parse_native(self, data: bytes, kind: str) -> dict[str, Any]:
        return parse_response(data, created=int(self._clock()))  # Claude's answer as rawPredict gave it

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return parse_error(status, headers, body)

    def stream_parser(self) -> VertexStreamParser:
        return VertexStreamParser(created=int(self._clock()))


def _anthropic_version(target: Target) -> str:
    return str(target.config.get("anthropic_version") or ANTHROPIC_VERSION)
