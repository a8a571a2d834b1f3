"""Google AI Studio (Gemini `generateContent`) provider: a pure translator, no I/O."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from switchyard.providers.base import Provider, Target, UpstreamError, UpstreamRequest
from switchyard.providers.gemini.embeddings import build_embeddings, parse_embeddings
from switchyard.providers.gemini.request import build_request
from switchyard.providers.gemini.response import parse_error, parse_response
from switchyard.providers.gemini.stream import GeminiStreamParser

__all__ = ["GeminiProvider", "GeminiStreamParser"]


class GeminiProvider(Provider):
    """OpenAI chat ⇄ Gemini. `clock` only stamps `created` (inject one for reproducible tests)."""

    name = "gemini"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def build_request(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        return build_request(body, target)

    def parse_response(self, body: bytes) -> dict[str, Any]:
        return parse_response(body, created=int(self._clock()))

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return parse_error(status, headers, body)

    def build_embeddings(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        return build_embeddings(body, target)

    def parse_embeddings(self, data: bytes, body: dict[str, Any], model: str) -> dict[str, Any]:
        return parse_embeddings(data, body, model)

    def stream_parser(self) -> GeminiStreamParser:
        return GeminiStreamParser(created=int(self._clock()))
