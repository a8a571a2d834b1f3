"""Legacy text completions (`/v1/completions`) for chat-only models: prompt → one user message, and back."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import GatewayError, bad_request

# Parameters with the same meaning in both APIs.
_SHARED = (
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "user",
    "seed",
    "stream",
    "stream_options",
    "service_tier",
    "metadata",
)


def prompt_text(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) == 1 and isinstance(prompt[0], str):
            return prompt[0]
        raise bad_request(
            "This model is chat-only: send one prompt string per request (a batch of prompts or token arrays "
            "can only go to a model that serves legacy completions natively).",
            param="prompt",
        )
    if not isinstance(prompt, str):
        raise bad_request("'prompt' must be a string.", param="prompt")
    return prompt


class CompletionsSurface:
    """A legacy-completions caller served by a chat model."""

    object_name = "text_completion"
    kind = "completions"  # which native API this surface is (see Executor._request)
    upstream_path = "chat/completions"

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("echo"):
            raise bad_request("'echo' is not supported for chat-only models.", param="echo")
        if body.get("suffix"):
            raise bad_request("'suffix' is not supported for chat-only models.", param="suffix")
        chat: dict[str, Any] = {
            "model": body["model"],
            "messages": [{"role": "user", "content": prompt_text(body)}],
        }
        for k in _SHARED:
            if k in body:
                chat[k] = body[k]
        return chat

    def response(self, completion: dict[str, Any]) -> dict[str, Any]:
        choices = []
        for ch in completion.get("choices") or ():
            msg = ch.get("message") or {}
            choices.append(
                {
                    "text": msg.get("content") or "",
                    "index": ch.get("index", 0),
                    "logprobs": None,
                    "finish_reason": ch.get("finish_reason"),
                }
            )
        out = {
            "id": completion.get("id"),
            "object": "text_completion",
            "created": completion.get("created"),
            "model": completion.get("model"),
            "choices": choices,
        }
        if completion.get("usage") is not None:
            out["usage"] = completion["usage"]
        if completion.get("system_fingerprint"):
            out["system_fingerprint"] = completion["system_fingerprint"]
        return out

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        choices = [
            {
                "text": (ch.get("delta") or {}).get("content") or "",
                "index": ch.get("index", 0),
                "logprobs": None,
                "finish_reason": ch.get("finish_reason"),
            }
            for ch in chunk.get("choices") or ()
        ]
        out: dict[str, Any] = {
            "id": chunk.get("id"),
            "object": "text_completion",
            "created": chunk.get("created"),
            "model": chunk.get("model"),
            "choices": choices,
        }
        if chunk.get("usage") is not None:
            out["usage"] = chunk["usage"]
        return b"data: " + orjson.dumps(out) + b"\n\n"

    def done(self) -> bytes:
        return b"data: [DONE]\n\n"

    def error_event(self, err: GatewayError) -> bytes:
        return b"data: " + err.openai_body() + b"\n\n"
