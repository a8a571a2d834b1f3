"""Gemini `streamGenerateContent?alt=sse` bytes → OpenAI `chat.completion.chunk` dicts. Pure.

Each SSE `data:` is a whole `GenerateContentResponse` holding the next slice of every candidate.
Text and thoughts arrive as deltas; a function call arrives whole, so it becomes one tool_call delta
with the complete arguments. `usageMetadata` is cumulative, so only the last one counts: it goes out
once, in a final `choices: []` chunk at `close()`, the way OpenAI sends usage with
`stream_options.include_usage`.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from switchyard.formats.sse import SSEDecoder
from switchyard.providers.base import UpstreamError
from switchyard.providers.gemini.response import (
    CallIds,
    error_from_payload,
    finish_reason,
    split_parts,
    usage,
)


class GeminiStreamParser:
    __slots__ = (
        "_called",
        "_counter",
        "_created",
        "_decoder",
        "_finished",
        "_id",
        "_model",
        "_named",
        "_started",
        "_tools",
        "_usage",
    )

    def __init__(self, *, created: int) -> None:
        self._decoder = SSEDecoder()
        self._created = created
        self._id = f"chatcmpl-{uuid.uuid4().hex}"  # replaced by Gemini's responseId when it comes
        self._named = False
        self._model = ""
        self._usage: dict[str, Any] | None = None
        self._counter = CallIds()  # tool call ids, unique across responses
        self._started: set[int] = set()  # choices whose first chunk (with the role) went out
        self._tools: dict[int, int] = {}  # choice index → next tool_calls index
        self._called: set[int] = set()  # choices that made a function call
        self._finished: set[int] = set()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in self._decoder.feed(data):
            self._event(event.data, out)
        return out

    def close(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in self._decoder.close():
            self._event(event.data, out)
        if not self._finished or self._started - self._finished:
            raise UpstreamError(502, "server", "stream ended early")
        if self._usage is not None:
            out.append(self._chunk([], usage=usage(self._usage)))
        return out

    def _event(self, raw: str, out: list[dict[str, Any]]) -> None:
        if not raw.strip() or raw.strip() == "[DONE]":
            return
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(
                502, "server", f"invalid JSON in Gemini stream: {exc}", body=raw.encode()
            ) from exc
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            raise UpstreamError(502, "server", "unexpected event shape in Gemini stream", body=raw.encode())
        if isinstance(data.get("error"), dict):
            code = data["error"].get("code")
            raise error_from_payload(code if isinstance(code, int) else 500, {}, data["error"], raw.encode())
        if not self._named and data.get("responseId"):
            self._id, self._named = data["responseId"], True
        self._model = data.get("modelVersion") or self._model
        if isinstance(data.get("usageMetadata"), dict):
            self._usage = data["usageMetadata"]
        candidates = data.get("candidates") or []
        for position, cand in enumerate(candidates):
            self._candidate(cand.get("index", position), cand, out)
        if not candidates and (data.get("promptFeedback") or {}).get("blockReason"):
            out.append(self._choice(0, {"content": ""}, "content_filter"))

    def _candidate(self, index: int, cand: dict[str, Any], out: list[dict[str, Any]]) -> None:
        text, reasoning, calls, _ = split_parts((cand.get("content") or {}).get("parts") or [], self._counter)
        delta: dict[str, Any] = {}
        if text:
            delta["content"] = text
        if reasoning:
            delta["reasoning_content"] = reasoning
        if calls:
            self._called.add(index)
            first = self._tools.get(index, 0)
            delta["tool_calls"] = [{"index": first + i, **call} for i, call in enumerate(calls)]
            self._tools[index] = first + len(calls)
        reason = finish_reason(cand.get("finishReason"), index in self._called)
        if delta or reason:
            out.append(self._choice(index, delta, reason))

    def _choice(self, index: int, delta: dict[str, Any], reason: str | None) -> dict[str, Any]:
        if index not in self._started:
            self._started.add(index)
            delta = {"role": "assistant", **delta}
            if "content" not in delta and "tool_calls" not in delta:
                delta["content"] = ""
        if reason:
            self._finished.add(index)
        return self._chunk([{"index": index, "delta": delta, "finish_reason": reason, "logprobs": None}])

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }
        chunk.update(extra)
        return chunk
