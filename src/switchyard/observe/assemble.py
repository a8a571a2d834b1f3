"""Assemble a streamed chat completion (OpenAI chunks) into the `chat.completion` it amounts to, for the log."""

from __future__ import annotations

from typing import Any


class StreamAssembler:
    __slots__ = ("_choices", "created", "ended", "id", "model", "object", "usage")

    def __init__(self, object_name: str = "chat.completion") -> None:
        self.id: str | None = None
        self.model: str | None = None
        self.created: int | None = None
        self.object = object_name
        self.usage: dict[str, Any] | None = None
        self.ended = False  # some choice has its finish reason
        self._choices: dict[int, dict[str, Any]] = {}

    def feed(self, chunk: dict[str, Any]) -> None:
        if self.id is None:
            self.id, self.model, self.created = chunk.get("id"), chunk.get("model"), chunk.get("created")
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        for ch in chunk.get("choices") or ():
            idx = ch.get("index", 0)
            acc = self._choices.get(idx)
            if acc is None:
                acc = self._choices[idx] = {
                    "index": idx,
                    "text": [],
                    "reasoning": [],
                    "tools": {},
                    "finish_reason": None,
                    "role": "assistant",
                }
            if ch.get("finish_reason"):
                acc["finish_reason"] = ch["finish_reason"]
                self.ended = True
            if "text" in ch:  # legacy completions
                acc["text"].append(ch.get("text") or "")
                continue
            delta = ch.get("delta") or {}
            content = delta.get("content")
            if content:
                acc["text"].append(content)
                if len(delta) == 1:  # the common chunk: one piece of text, nothing else to look for
                    continue
            if delta.get("reasoning_content"):
                acc["reasoning"].append(delta["reasoning_content"])
            for tc in delta.get("tool_calls") or ():
                t = acc["tools"].setdefault(
                    tc.get("index", 0), {"id": None, "type": "function", "name": "", "arguments": []}
                )
                if tc.get("id"):
                    t["id"] = tc["id"]
                fn = tc.get("function") or {}
                if fn.get("name"):
                    t["name"] += fn["name"]
                if fn.get("arguments"):
                    t["arguments"].append(fn["arguments"])

    @property
    def has_output(self) -> bool:
        """Whether anything the caller would see as the answer has arrived (text, reasoning, a tool call, a finish).
        Before that a stream can still fall back to another provider without the caller noticing."""
        for c in self._choices.values():
            if c["text"] or c["reasoning"] or c["tools"] or c["finish_reason"]:
                return True
        return False

    @property
    def finished(self) -> bool:
        """Every choice has its finish reason."""
        return bool(self._choices) and all(c["finish_reason"] for c in self._choices.values())

    @property
    def text(self) -> str:
        return "".join("".join(c["text"]) for c in self._choices.values())

    def result(self) -> dict[str, Any]:
        choices = []
        for idx in sorted(self._choices):
            c = self._choices[idx]
            if self.object == "text_completion":
                choices.append(
                    {"index": idx, "text": "".join(c["text"]), "finish_reason": c["finish_reason"]}
                )
                continue
            msg: dict[str, Any] = {"role": "assistant", "content": "".join(c["text"]) or None}
            if c["reasoning"]:
                msg["reasoning_content"] = "".join(c["reasoning"])
            if c["tools"]:
                msg["tool_calls"] = [
                    {
                        "id": t["id"],
                        "type": "function",
                        "function": {"name": t["name"], "arguments": "".join(t["arguments"])},
                    }
                    for _, t in sorted(c["tools"].items())
                ]
            choices.append({"index": idx, "message": msg, "finish_reason": c["finish_reason"]})
        out: dict[str, Any] = {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.usage is not None:
            out["usage"] = self.usage
        return out
