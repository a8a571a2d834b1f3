"""Responses API streaming for a chat-served caller (the objects it sends are built in `openai_responses_items`).

`ResponsesStreamEncoder` turns OpenAI `chat.completion.chunk` dicts into Responses SSE events
the way OpenAI sends them (`event: <type>` + `data: {"type", "sequence_number", ...}`), one output item at a
time: `response.created`, `response.in_progress`, then per item `response.output_item.added` … deltas …
`response.output_item.done`, and finally `response.completed` (or `response.incomplete`) carrying the whole
response with usage. A new item closes the previous one, as OpenAI never interleaves items.

Reasoning: chat `reasoning_content` becomes a `reasoning` item whose text is a *summary* part
(`response.reasoning_summary_text.delta`), the same place `ResponsesSurface.request` reads it back from.
Signed thinking blocks (`thinking_blocks`, Anthropic) close their reasoning item and ride in its
`encrypted_content` with a `switchyard:` prefix, so a caller that sends the item back (as Responses clients do)
gets the signature returned to the provider; foreign `encrypted_content` is never mistaken for one.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from .openai_responses_items import (
    block_encrypted,
    envelope,
    function_call_item,
    incomplete_reason,
    message_item,
    new_id,
    reasoning_item,
    response_usage,
    text_part,
)


class ResponsesStreamEncoder:
    """Stateful: one per streamed request. `chunk` per chat chunk, `done` once at the end of the stream.

    The final event goes out as soon as both the finish_reason and the usage are known (the usage normally
    arrives in a later `choices: []` chunk), else at `done()`. Only choice 0 is encoded (Responses has no `n`).
    Tool-call argument deltas for a call already closed (a provider interleaving calls) are kept in the final
    item but get no delta event.
    """

    def __init__(self, body: dict[str, Any], *, store: bool = False) -> None:
        self._body = body
        self._store = store
        self.final: dict[str, Any] | None = None  # the whole response, once the final event went out
        self._seq = 0
        self._rid = ""
        self._created = 0
        self._model = ""
        self._started = False
        self._final = False
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None
        self._output: list[dict[str, Any]] = []
        self._cur: dict[str, Any] | None = None  # the open item: {kind, index, item, part_open, text}
        self._tools: dict[int, dict[str, Any]] = {}  # chat tool_calls index → item state

    # -- public ------------------------------------------------------------------------------------

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        if self._final:
            return b""
        out: list[bytes] = []
        if not self._started:
            self._start(chunk, out)
        if chunk.get("usage"):
            self._usage = response_usage(chunk["usage"])
        for ch in chunk.get("choices") or ():
            if ch.get("index", 0) != 0:
                continue
            delta = ch.get("delta") or {}
            if delta.get("reasoning_content"):
                self._reasoning(delta["reasoning_content"], out)
            for block in delta.get("thinking_blocks") or ():
                self._thinking_block(block, out)
            if delta.get("content"):
                self._text("output_text", delta["content"], out)
            if delta.get("refusal"):
                self._text("refusal", delta["refusal"], out)
            for tc in delta.get("tool_calls") or ():
                self._tool_call(tc, out)
            if ch.get("finish_reason"):
                self._finish = ch["finish_reason"]
                self._close(out, "incomplete" if incomplete_reason(self._finish) else "completed")
        if self._finish is not None and self._usage is not None:
            self._finalize(out)
        return b"".join(out)

    def done(self) -> bytes:
        if self._final:
            return b""
        out: list[bytes] = []
        if not self._started:
            self._start({}, out)
        self._close(out, "incomplete" if incomplete_reason(self._finish) else "completed")
        self._finalize(out)
        return b"".join(out)

    def error(self, code: str | None, message: str, param: str | None) -> bytes:
        self._final = True
        return self._event("error", {"code": code, "message": message, "param": param})

    # -- framing -----------------------------------------------------------------------------------

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _response(self, status: str, incomplete: str | None = None) -> dict[str, Any]:
        return envelope(
            self._body,
            rid=self._rid,
            created_at=self._created,
            model=self._model,
            status=status,
            output=self._output if status != "in_progress" else [],
            usage=self._usage if status != "in_progress" else None,
            incomplete=incomplete,
            store=self._store,
        )

    def _start(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        self._started = True
        self._rid = new_id("resp_")  # the gateway's own: a later previous_response_id names it
        created = chunk.get("created")
        self._created = created if isinstance(created, int) else int(time.time())
        self._model = chunk.get("model") or self._body.get("model") or ""
        resp = self._response("in_progress")
        out.append(self._event("response.created", {"response": resp}))
        out.append(self._event("response.in_progress", {"response": resp}))

    def _finalize(self, out: list[bytes]) -> None:
        self._final = True
        reason = incomplete_reason(self._finish)
        if reason:
            self.final = self._response("incomplete", reason)
            out.append(self._event("response.incomplete", {"response": self.final}))
        else:
            self.final = self._response("completed")
            out.append(self._event("response.completed", {"response": self.final}))

    # -- items -------------------------------------------------------------------------------------

    def _open(self, kind: str, item: dict[str, Any], out: list[bytes]) -> dict[str, Any]:
        self._close(out)
        st = {"kind": kind, "index": len(self._output), "item": item, "part_open": False, "text": ""}
        self._output.append(item)
        self._cur = st
        out.append(self._event("response.output_item.added", {"output_index": st["index"], "item": item}))
        return st

    def _close(self, out: list[bytes], status: str = "completed") -> None:
        st, self._cur = self._cur, None
        if st is None:
            return
        item, ids = st["item"], {"item_id": st["item"]["id"], "output_index": st["index"]}
        if st["kind"] == "message":
            self._close_part(st, out)
            item["status"] = status
        elif st["kind"] == "reasoning":
            if st["part_open"]:
                part = {"type": "summary_text", "text": st["text"]}
                out.append(
                    self._event(
                        "response.reasoning_summary_text.done",
                        {**ids, "summary_index": 0, "text": st["text"]},
                    )
                )
                out.append(
                    self._event(
                        "response.reasoning_summary_part.done", {**ids, "summary_index": 0, "part": part}
                    )
                )
                item["summary"] = [part]
        else:
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    {**ids, "name": item["name"], "arguments": item["arguments"]},
                )
            )
            item["status"] = status
        out.append(self._event("response.output_item.done", {"output_index": st["index"], "item": item}))

    def _close_part(self, st: dict[str, Any], out: list[bytes]) -> None:
        if not st["part_open"]:
            return
        st["part_open"] = False
        item = st["item"]
        part = item["content"][-1]
        ids = {"item_id": item["id"], "output_index": st["index"], "content_index": len(item["content"]) - 1}
        if part["type"] == "output_text":
            out.append(
                self._event("response.output_text.done", {**ids, "text": part["text"], "logprobs": []})
            )
        else:
            out.append(self._event("response.refusal.done", {**ids, "refusal": part["refusal"]}))
        out.append(self._event("response.content_part.done", {**ids, "part": part}))

    def _text(self, kind: str, delta: str, out: list[bytes]) -> None:
        st = self._cur
        if st is None or st["kind"] != "message":
            st = self._open("message", message_item("in_progress"), out)
        item = st["item"]
        if not st["part_open"] or item["content"][-1]["type"] != kind:
            self._close_part(st, out)
            part = text_part() if kind == "output_text" else {"type": "refusal", "refusal": ""}
            item["content"].append(part)
            st["part_open"] = True
            out.append(
                self._event(
                    "response.content_part.added",
                    {
                        "item_id": item["id"],
                        "output_index": st["index"],
                        "content_index": len(item["content"]) - 1,
                        "part": part,
                    },
                )
            )
        part = item["content"][-1]
        ids = {"item_id": item["id"], "output_index": st["index"], "content_index": len(item["content"]) - 1}
        if kind == "output_text":
            part["text"] += delta
            out.append(self._event("response.output_text.delta", {**ids, "delta": delta, "logprobs": []}))
        else:
            part["refusal"] += delta
            out.append(self._event("response.refusal.delta", {**ids, "delta": delta}))

    def _reasoning(self, delta: str, out: list[bytes]) -> None:
        st = self._cur
        if st is None or st["kind"] != "reasoning":
            st = self._open("reasoning", reasoning_item(""), out)
        ids = {"item_id": st["item"]["id"], "output_index": st["index"], "summary_index": 0}
        if not st["part_open"]:
            st["part_open"] = True
            out.append(
                self._event(
                    "response.reasoning_summary_part.added",
                    {**ids, "part": {"type": "summary_text", "text": ""}},
                )
            )
        st["text"] += delta
        out.append(self._event("response.reasoning_summary_text.delta", {**ids, "delta": delta}))

    def _thinking_block(self, block: Any, out: list[bytes]) -> None:
        """A finished thinking block: attach its signature to the open reasoning item and close it."""
        if not isinstance(block, dict):
            return
        text, encrypted = block_encrypted(block)
        st = self._cur
        if block.get("type") == "redacted_thinking" or st is None or st["kind"] != "reasoning":
            st = self._open("reasoning", reasoning_item(""), out)
            if text:
                self._reasoning(text, out)
        if encrypted is not None:
            st["item"]["encrypted_content"] = encrypted
        self._close(out)

    def _tool_call(self, tc: dict[str, Any], out: list[bytes]) -> None:
        idx = tc.get("index", 0)
        fn = tc.get("function") or {}
        st = self._tools.get(idx)
        if st is None:
            item = function_call_item(tc.get("id"), fn.get("name") or "", "", "in_progress")
            st = self._tools[idx] = self._open("tool", item, out)
        else:
            if fn.get("name"):
                st["item"]["name"] += fn["name"]
            if tc.get("id"):
                st["item"]["call_id"] = tc["id"]
        args = fn.get("arguments")
        if args:
            st["item"]["arguments"] += args
            if st is self._cur:
                out.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        {"item_id": st["item"]["id"], "output_index": st["index"], "delta": args},
                    )
                )
