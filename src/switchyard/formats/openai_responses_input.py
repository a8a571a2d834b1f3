"""Responses API input items → chat messages, for providers without a native Responses API: messages (content
parts: text, images, files), `function_call` items folded into one assistant message's `tool_calls`,
`function_call_output` → `tool` messages, and `reasoning` items attached to the next assistant message (summary
text as `reasoning_content`; this gateway's own signed thinking blocks back as `thinking_blocks`).
Anything a bridge cannot carry is a 400 that says so (`bridge`).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import GatewayError, bad_request
from .openai_responses_items import REDACTED_PREFIX, THINKING_PREFIX

_TEXT = ("input_text", "output_text", "text")
_DETAIL = ("auto", "low", "high")


def bridge(what: str, param: str) -> GatewayError:
    return bad_request(
        f"{what} not supported when the Responses API is bridged to chat completions "
        "(this model's provider has no native Responses API).",
        code="unsupported_parameter",
        param=param,
    )


def _content_parts(content: Any, where: str) -> str | list[dict[str, Any]]:
    """Message content for a user/system message: a string, or chat parts (one text part → a string)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(
            "message 'content' must be a string or an array of content parts.", param=f"{where}.content"
        )
    parts: list[dict[str, Any]] = []
    for k, p in enumerate(content):
        w = f"{where}.content[{k}]"
        kind = p.get("type") if isinstance(p, dict) else None
        if kind in _TEXT:
            parts.append({"type": "text", "text": p.get("text") or ""})
        elif kind == "refusal":
            parts.append({"type": "text", "text": p.get("refusal") or ""})
        elif kind == "input_image":
            url = p.get("image_url")
            if not isinstance(url, str) or not url:
                if p.get("file_id"):
                    raise bridge("Images by 'file_id' (OpenAI file storage) are", w)
                raise bad_request("input_image needs an 'image_url' (an http(s) or data: URL).", param=w)
            image: dict[str, Any] = {"url": url}
            if p.get("detail") in _DETAIL:
                image["detail"] = p["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file":
            if not p.get("file_data"):
                source = (
                    "'file_id' (OpenAI file storage)"
                    if p.get("file_id")
                    else "'file_url'"
                    if p.get("file_url")
                    else None
                )
                if source:
                    raise bridge(f"Files by {source} are", w)
                raise bad_request(
                    "input_file needs 'file_data' (a base64 data: URL) and a 'filename'.", param=w
                )
            file = {"file_data": p["file_data"]}
            if p.get("filename"):
                file["filename"] = p["filename"]
            parts.append({"type": "file", "file": file})
        else:
            raise bad_request(f"Unsupported content part type {kind!r}.", param=w)
    if len(parts) == 1 and parts[0]["type"] == "text":
        return parts[0]["text"]
    return parts


def _tool_output(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(p, dict) and p.get("type") in _TEXT for p in output):
        return "".join(p.get("text") or "" for p in output)
    return orjson.dumps(output).decode()


class History:
    """Input items → chat messages."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._assistant: dict[str, Any] | None = None  # the assistant message later function calls join
        self._reasoning: list[dict[str, Any]] = []  # reasoning items waiting for their assistant message

    def add(self, item: Any, where: str) -> None:
        if not isinstance(item, dict):
            raise bad_request("each input item must be an object.", param=where)
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            self._message(item, where)
        elif kind == "function_call":
            self._function_call(item, where)
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise bad_request("function_call_output needs a 'call_id'.", param=f"{where}.call_id")
            self._flush()
            self.messages.append(
                {"role": "tool", "tool_call_id": call_id, "content": _tool_output(item.get("output"))}
            )
        elif kind == "reasoning":
            self._reasoning.append(item)
        elif kind == "item_reference":
            raise bridge(
                "'item_reference' input items (they point at stored items; this gateway keeps none: "
                "responses.retention_days is 0) are",
                where,
            )
        else:
            raise bridge(f"Input items of type {kind!r} are", f"{where}.type")

    def _flush(self) -> None:
        self._assistant = None
        self._reasoning = []  # reasoning with no assistant turn after it has nowhere to go in chat

    def _message(self, item: dict[str, Any], where: str) -> None:
        role = item.get("role")
        content = item.get("content")
        if role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": None}
            if isinstance(content, str):
                msg["content"] = content
            elif isinstance(content, list):
                texts, refusals = [], []
                for p in content:
                    if isinstance(p, dict) and p.get("type") == "refusal":
                        refusals.append(p.get("refusal") or "")
                    elif isinstance(p, dict) and p.get("type") in _TEXT:
                        texts.append(p.get("text") or "")
                    else:
                        raise bad_request(
                            "assistant messages may hold only output_text and refusal parts.",
                            param=f"{where}.content",
                        )
                msg["content"] = "".join(texts) if texts else None
                if refusals:
                    msg["refusal"] = "".join(refusals)
            else:
                raise bad_request(
                    "message 'content' must be a string or an array of content parts.",
                    param=f"{where}.content",
                )
            self.messages.append(msg)
            self._assistant = msg
            self._attach_reasoning(msg)
            return
        if role not in ("user", "system", "developer"):
            raise bad_request(f"Unsupported message role {role!r}.", param=f"{where}.role")
        self._flush()
        self.messages.append(
            {"role": "system" if role == "developer" else role, "content": _content_parts(content, where)}
        )

    def _function_call(self, item: dict[str, Any], where: str) -> None:
        call_id = item.get("call_id") or item.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise bad_request("function_call items need a 'call_id'.", param=f"{where}.call_id")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise bad_request("function_call items need a 'name'.", param=f"{where}.name")
        args = item.get("arguments")
        if not isinstance(args, str):
            args = orjson.dumps(args if args is not None else {}).decode()
        if self._assistant is None:
            self._assistant = {"role": "assistant", "content": None}
            self.messages.append(self._assistant)
        self._attach_reasoning(self._assistant)
        self._assistant.setdefault("tool_calls", []).append(
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
        )

    def _attach_reasoning(self, msg: dict[str, Any]) -> None:
        if not self._reasoning:
            return
        texts: list[str] = [msg["reasoning_content"]] if msg.get("reasoning_content") else []
        blocks: list[dict[str, Any]] = msg.get("thinking_blocks") or []
        for r in self._reasoning:
            summary = v if isinstance(v := r.get("summary"), list) else []
            text = "\n\n".join(s.get("text") or "" for s in summary if isinstance(s, dict) and s.get("text"))
            if text:
                texts.append(text)
            enc = r.get("encrypted_content")
            if isinstance(enc, str) and enc.startswith(THINKING_PREFIX):
                blocks.append(
                    {"type": "thinking", "thinking": text, "signature": enc[len(THINKING_PREFIX) :]}
                )
            elif isinstance(enc, str) and enc.startswith(REDACTED_PREFIX):
                blocks.append({"type": "redacted_thinking", "data": enc[len(REDACTED_PREFIX) :]})
        self._reasoning = []
        if texts:
            msg["reasoning_content"] = "\n\n".join(texts)
        if blocks:
            msg["thinking_blocks"] = blocks
