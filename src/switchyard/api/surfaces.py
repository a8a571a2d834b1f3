"""Caller surfaces by route: which codec serves the caller, how its body is checked, how errors are shaped.

Stateless codecs (chat, legacy completions) are shared; stateful ones (Anthropic messages, Responses stream
encoders) are made per request, and translate the caller's body to the OpenAI chat lingua franca once per request
(the check's translation is the one every attempt and retry sends). A check never changes the caller's dict: it
returns the body to execute (a new dict when it normalises one).
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
from ..pipeline.exchange import Surface

MAPPING_HEADER = "helicone-gateway-body-mapping"


@dataclass(frozen=True, slots=True)
class SurfaceSpec:
    make: Callable[[dict[str, str]], Any]  # caller headers → the surface (codec) for one request
    # (body, surface) → the body to execute; raises GatewayError (400) for a body no provider could serve
    check: Callable[[dict[str, Any], Any], dict[str, Any]]
    anthropic_errors: bool = False  # errors in Anthropic's shape instead of OpenAI's
    always_usage: bool = False  # the caller's format always carries usage in streams
    counts_tokens: bool = False  # the plan counts input tokens, nothing is generated (count_tokens)

    def error_body(self, e: GatewayError) -> bytes:
        return e.anthropic_body() if self.anthropic_errors else e.openai_body()


def _check_chat(body: dict[str, Any], surface: Surface) -> dict[str, Any]:
    messages = body.get("messages")
    if not messages and isinstance(body.get("prompt"), str):
        # LiteLLM's helicone/ route sends text-completion calls as {"messages": [], "prompt": "..."} to
        # /chat/completions: serve the prompt as the user turn rather than reject a client that works elsewhere.
        prompt = body["prompt"]
        body = {k: v for k, v in body.items() if k != "prompt"}  # a copy: the caller's dict is what it sent
        body["messages"] = [{"role": "user", "content": prompt}]
    elif not isinstance(messages, list) or not messages:
        raise bad_request(
            "'messages' must be a non-empty array of messages.", code="invalid_messages", param="messages"
        )
    check_messages(body["messages"])
    check_params(body, CHAT_PARAMS)
    return body


def _check_completions(body: dict[str, Any], surface: Surface) -> dict[str, Any]:
    if "prompt" not in body:
        raise bad_request("Missing required parameter: 'prompt'.", code="missing_prompt", param="prompt")
    check_params(body, COMPLETION_PARAMS)
    return body


def _check_messages(body: dict[str, Any], surface: Surface) -> dict[str, Any]:
    surface.request(
        body
    )  # the full Anthropic-side validation (messages, max_tokens, blocks), kept for the attempts
    return body


def _require_input(body: dict[str, Any], surface: Surface) -> dict[str, Any]:
    """Responses and embeddings both carry their payload in `input`."""
    if body.get("input") in (None, "", []):
        raise bad_request("Missing required parameter: 'input'.", code="missing_input", param="input")
    return body


class MessagesCaller(MessagesSurface):
    """An Anthropic Messages caller for one request: its body is translated to chat once, not per attempt."""

    def __init__(self, no_mapping: bool) -> None:
        super().__init__()
        self.no_mapping = no_mapping  # Helicone-Gateway-Body-Mapping: NO_MAPPING (native providers only)
        self._source: dict[str, Any] | None = None
        self._chat: dict[str, Any] = {}

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        if body is not self._source:  # a token-limit handler may have replaced the checked body
            self._chat = to_chat(body)
            self._source = body
        return self._chat


class ResponsesCaller(ResponsesSurface):
    """A Responses caller for one request: its body (with stored state resolved) is translated to chat once."""

    def __init__(self) -> None:
        super().__init__()
        self._source: dict[str, Any] | None = None
        self._chat: dict[str, Any] = {}

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        if (
            self.state_error is not None
        ):  # stored state that could not be resolved: every bridged attempt says so
            raise self.state_error
        if body is not self._source:
            self._chat = super().request(body)
            self._source = body
        return self._chat


def _messages(headers: dict[str, str]) -> MessagesCaller:
    return MessagesCaller(headers.get(MAPPING_HEADER, "").strip().upper() == "NO_MAPPING")


class EmbeddingsSurface:
    """Embeddings are served natively by OpenAI-format upstreams only; nothing is translated."""

    object_name = "list"
    kind = "embeddings"
    upstream_path = "embeddings"


_CHAT, _COMPLETIONS, _EMBEDDINGS = ChatSurface(), CompletionsSurface(), EmbeddingsSurface()

CHAT = SurfaceSpec(make=lambda h: _CHAT, check=_check_chat)
COMPLETIONS = SurfaceSpec(make=lambda h: _COMPLETIONS, check=_check_completions)
MESSAGES = SurfaceSpec(make=_messages, check=_check_messages, anthropic_errors=True, always_usage=True)
RESPONSES = SurfaceSpec(make=lambda h: ResponsesCaller(), check=_require_input, always_usage=True)
EMBEDDINGS = SurfaceSpec(make=lambda h: _EMBEDDINGS, check=_require_input)


def chat_alternate(body: dict[str, Any], headers: dict[str, str]) -> SurfaceSpec | None:
    """A Responses-shaped body posted to /chat/completions (Cursor and others do this) is served as Responses,
    as is any body with `Helicone-Gateway-Body-Mapping: RESPONSES`; an explicit `OPENAI` turns detection off."""
    mapping = headers.get(MAPPING_HEADER)
    if mapping is not None:  # (most requests: no string work)
        mapping = mapping.strip().upper()
    if mapping == "RESPONSES":
        return RESPONSES
    if mapping != "OPENAI" and "messages" not in body and "input" in body:
        return RESPONSES
    return None
