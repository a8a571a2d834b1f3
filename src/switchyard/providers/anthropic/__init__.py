"""Anthropic Messages API provider: OpenAI chat ⇄ Anthropic `/v1/messages`, as a pure translator.

Target config keys read here:
- `max_output`: the model's output-token ceiling; `max_tokens` (and a thinking budget) are capped to it.
- `json_schema_mode`: `"native"` sends `response_format: json_schema` as Anthropic structured outputs
  (`output_config.format`; set from the registry's `structured_output` for Claude 4.5 and later); anything
  else (the default, right for every Claude model) forces a reserved tool instead. `json_object` is always the
  forced tool with an open object schema. Either way the caller gets the JSON as `message.content`.
- `thinking_mode`: `"budget"` (default) maps `reasoning_effort` to `thinking.budget_tokens`; `"adaptive"`
  sends `thinking: {type: adaptive}` with `output_config.effort` (required by Opus 4.7 and later).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..base import Provider, Target, UpstreamError, UpstreamRequest
from .request import build_request, count_request, native_request
from .response import parse_error, parse_response
from .stream import AnthropicStreamParser

__all__ = ["AnthropicProvider", "AnthropicStreamParser"]


class AnthropicProvider(Provider):
    name = "anthropic"
    native_kinds = frozenset({"messages"})

    def native_request(
        self, body: dict[str, Any], target: Target, kind: str, headers: Mapping[str, str] | None = None
    ) -> UpstreamRequest:
        """An Anthropic Messages caller: the body goes through with only `model` rewritten; the caller's
        `anthropic-beta` header is forwarded (features such as extended context depend on it)."""
        return native_request(body, target, headers or {})

    def build_request(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        return build_request(body, target)

    def parse_response(self, body: bytes) -> dict[str, Any]:
        return parse_response(body)

    def parse_native(self, data: bytes, kind: str) -> dict[str, Any]:
        """A native Messages answer: usage and model read through the translator (OpenAI names, for the log)."""
        return parse_response(data)

    def counts_tokens(self, target: Target) -> bool:
        return True  # every model behind the Anthropic API is a Claude model

    def count_request(
        self, body: dict[str, Any], target: Target, headers: Mapping[str, str] | None = None
    ) -> UpstreamRequest:
        """`POST {base}/messages/count_tokens`, the body as sent with `model` rewritten."""
        return count_request(body, target, headers or {})

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return parse_error(status, headers, body)

    def stream_parser(self) -> AnthropicStreamParser:
        return AnthropicStreamParser()
