"""Caller surfaces by route: which codec serves the caller, how its body is checked, how errors are shaped.

Stateless codecs (chat, legacy completions) are shared; stateful ones (Anthropic messages, Responses stream
encoders) are made per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import GatewayError, bad_request
from ..formats.anthropic_messages import MessagesSurface, to_chat
from ..formats.openai_chat import ChatSurface
from ..formats.openai_completions import CompletionsSurface
from ..formats.openai_params import CHAT as CHAT_PARAMS
from ..formats.openai_params import COMPLETIONS as COMPLETION_PARAMS
from ..formats.openai_params import check_messages, check_params
from ..formats.openai_responses import ResponsesSurface

MAPPING_HEADER = "helicone-gateway-body-mapping"


@dataclass(frozen=True, slots=True)
class SurfaceSpec:
    make: Callable[[dict[str, str]], Any]  # caller headers → the surface (codec) for one request
    check: Callable[[dict[str, Any]], None]  # raises GatewayError (400) for a body no provider could serve
    anthropic_errors: bool = False  # errors in Anthropic's shape instead of OpenAI's
    always_usage: bool = False  # the caller's format always carries usage in streams

    def error_body(self, e: GatewayError) -> bytes:
        return e.anthropic_body() if self.anthropic_errors else e.openai_body()


def _check_chat(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not messages and isinstance(body.get("prompt"), str):
        # LiteLLM's helicone/ route sends text-completion calls as {"messages": [], "prompt": "..."} to
        # /chat/completions: serve the prompt as the user turn rather than reject a client that works elsewhere.
        body["messages"] = [{"role": "user", "content": body.pop("prompt")}]
    elif not isinstance(messages, list) or not messages:
        raise bad_request(
            "'messages' must be a non-empty array of messages.", code="invalid_messages", param="messages"
        )
    check_messages(body["messages"])
    check_params(body, CHAT_PARAMS)


def _check_completions(body: dict[str, Any]) -> None:
    if "prompt" not in body:
        raise bad_request("Missing required parameter: 'prompt'.", code="missing_prompt", param="prompt")
    check_params(body, COMPLETION_PARAMS)


def _check_messages(body: dict[str, Any]) -> None:
    to_chat(
        body
    )  # the full Anthropic-side validation (messages, max_tokens, blocks), also for native upstreams


def _require_input(body: dict[str, Any]) -> None:
    """Responses and embeddings both carry their payload in `input`."""
    if body.get("input") in (None, "", []):
        raise bad_request("Missing required parameter: 'input'.", code="missing_input", param="input")


def _messages(headers: dict[str, str]) -> MessagesSurface:
    surface = MessagesSurface()
    surface.no_mapping = headers.get(MAPPING_HEADER, "").strip().upper() == "NO_MAPPING"  # type: ignore[attr-defined]
    return surface


class EmbeddingsSurface:
    """Embeddings are served natively by OpenAI-format upstreams only; nothing is translated."""

    object_name = "list"
    kind = "embeddings"
    upstream_path = "embeddings"


_CHAT, _COMPLETIONS, _EMBEDDINGS = ChatSurface(), CompletionsSurface(), EmbeddingsSurface()

CHAT = SurfaceSpec(make=lambda h: _CHAT, check=_check_chat)
COMPLETIONS = SurfaceSpec(make=lambda h: _COMPLETIONS, check=_check_completions)
MESSAGES = SurfaceSpec(make=_messages, check=_check_messages, anthropic_errors=True, always_usage=True)
RESPONSES = SurfaceSpec(make=lambda h: ResponsesSurface(), check=_require_input, always_usage=True)
EMBEDDINGS = SurfaceSpec(make=lambda h: _EMBEDDINGS, check=_require_input)


def chat_alternate(body: dict[str, Any], headers: dict[str, str]) -> SurfaceSpec | None:
    """A Responses-shaped body posted to /chat/completions (Cursor and others do this) is served as Responses,
    as is any body with `Helicone-Gateway-Body-Mapping: RESPONSES`; an explicit `OPENAI` turns detection off."""
    mapping = headers.get(MAPPING_HEADER, "").strip().upper()
    if mapping == "RESPONSES":
        return RESPONSES
    if mapping != "OPENAI" and "messages" not in body and "input" in body:
        return RESPONSES
    return None
