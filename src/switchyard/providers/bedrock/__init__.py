"""AWS Bedrock provider (Converse / ConverseStream API): OpenAI chat ⇄ Converse, as a pure translator,
plus SigV4 signing (`sign`, called by the executor after `build_request`).

Target fields:
- `model`: a Bedrock model id (`anthropic.claude-sonnet-4-20250514-v1:0`, `amazon.nova-pro-v1:0`), a
  cross-region inference-profile id (`us.anthropic...`) or an ARN; URL-quoted into
  `{base}/model/{id}/converse` or `/converse-stream`.
- `base_url`: providers.yaml's `https://bedrock-runtime.{region}.amazonaws.com` (`{region}` is filled in).
- `api_key`: the AWS access key id (or a Bedrock API key when `auth` is `bearer`).

Target config keys:
- `region` (else the region in an explicit endpoint host, else `default_region`, else us-east-1).
- `endpoint`: overrides the base URL (VPC endpoints, tests); `{region}` is filled in here too.
- `cross_region`: "us" / "eu" / "apac" / "global" ..., prepended to a model id that has no such prefix.
- `secret_key` (or `secret`) and `session_token`: the rest of the AWS credentials.
- `family`: the model vendor when the id does not show it (application inference-profile ARNs).
- `max_output`: output-token ceiling; `maxTokens` (and a thinking budget) are capped to it.
- `json_schema_mode`: `"tool"` (default) sends `response_format: json_schema` as a forced reserved tool
  (works on every model with tool use; the answer comes back as `message.content`); `"native"` (set from the
  registry's `structured_output` for Claude 4.5 and later) uses Converse `outputConfig.textFormat`.
  `json_object` has no Converse equivalent: it is always the forced tool with an open object schema.
- `thinking_mode`: `"budget"` (default) maps `reasoning_effort` to Claude's `thinking.budget_tokens` in
  `additionalModelRequestFields`; `"adaptive"` sends `thinking: {type: adaptive}` with
  `outputConfig.effort`. Reasoning is only requested for Anthropic models (other vendors ignore it).

Tool notes: Converse has no `tool_choice: "none"`, so the tools are withheld; but Converse rejects a
history holding toolUse/toolResult blocks without a `toolConfig`, so then the tools are kept (the model
may still call one). A history with tool calls and no `tools` at all gets stub declarations (open schema)
of the tools it used. `parallel_tool_calls` has no Converse equivalent and is ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..anthropic.response import parse_response as anthropic_parse_response
from ..anthropic.stream import AnthropicStreamParser
from ..base import Provider, StreamParser, Target, UpstreamError, UpstreamRequest, count_field
from ..credentials import CredentialSpec, KeyPair
from .embeddings import build_embeddings, parse_embeddings
from .invoke import InvokeStreamReframer, count_request, native_request, serves_natively
from .request import build_request, family
from .response import parse_error, parse_response
from .sign import sign_request
from .stream import BedrockStreamParser

__all__ = ["BedrockProvider", "BedrockStreamParser"]


class BedrockProvider(Provider):
    """OpenAI chat ⇄ Bedrock Converse. `clock` only stamps `created` (inject one for reproducible tests)."""

    name = "bedrock"
    native_kinds = frozenset({"messages"})  # Claude only: see `serves_natively`
    # An organisation's key: an AWS access key pair (the key is one half, config names the other; a session
    # token may come with it), signed with SigV4 — or, alone, a Bedrock API key sent as a bearer token.
    credentials = CredentialSpec(
        config=frozenset({"base_url", "region", "endpoint", "cross_region"}),
        pair=KeyPair("access_key_id", "secret_access_key", ("session_token",), auth="aws-sigv4"),
        bare_auth="bearer",
        egress_hosts=("bedrock-runtime.*.amazonaws.com", "bedrock-runtime-fips.*.amazonaws.com"),
    )
    needs_base_url = False  # the region's endpoint

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def build_request(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        return build_request(body, target)

    def parse_response(self, body: bytes) -> dict[str, Any]:
        return parse_response(body, created=int(self._clock()))

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return parse_error(status, headers, body)

    def stream_parser(self) -> BedrockStreamParser:
        return BedrockStreamParser(created=int(self._clock()))

    # -- Claude through InvokeModel, for Anthropic Messages callers ------------------------------------

    def serves_natively(self, target: Target, kind: str) -> bool:
        return serves_natively(target, kind)

    def native_request(
        self, body: dict[str, Any], target: Target, kind: str, headers: Mapping[str, str] | None = None
    ) -> UpstreamRequest:
        return native_request(body, target, headers or {})

    def parse_native(self, data: bytes, kind: str) -> dict[str, Any]:
        return anthropic_parse_response(data)  # InvokeModel answers are Anthropic messages as they are

    def native_parser(self, kind: str) -> StreamParser:
        return AnthropicStreamParser()

    def native_reframer(self, kind: str) -> InvokeStreamReframer:
        return InvokeStreamReframer()

    def counts_tokens(self, target: Target) -> bool:
        return family(target) == "anthropic"

    def count_request(
        self, body: dict[str, Any], target: Target, headers: Mapping[str, str] | None = None
    ) -> UpstreamRequest:
        return count_request(body, target, headers or {})

    def parse_count(self, data: bytes, target: Target) -> int:
        return count_field(data, "inputTokens", target)

    # -- embeddings and signing ---------------------------------------------------------------------------

    def build_embeddings(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        return build_embeddings(body, target)

    def parse_embeddings(self, data: bytes, body: dict[str, Any], model: str) -> dict[str, Any]:
        return parse_embeddings(data, body, model)

    async def sign(self, req: UpstreamRequest, target: Target) -> UpstreamRequest:
        return sign_request(req, target)  # CPU only (HMACs): no need to leave the event loop
