"""The OpenAI Chat Completions caller surface: how answers are encoded for a chat caller."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import GatewayError


class ChatSurface:
    """Encodes OpenAI-format values for a chat-completions caller (identity, except for framing)."""

    object_name = "chat.completion"
    kind = "chat"  # which native API this surface is (see Executor._request)
    upstream_path = "chat/completions"

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def response(self, completion: dict[str, Any]) -> dict[str, Any]:
        return completion

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def done(self) -> bytes:
        return b"data: [DONE]\n\n"

    def error_event(self, err: GatewayError) -> bytes:
        return b"data: " + err.openai_body() + b"\n\n"
