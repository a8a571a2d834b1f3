"""The OpenAI Responses API caller surface (`/v1/responses`), bridged to chat for providers without it.

`ResponsesSurface` is stateful and made **once per request**: `request()` keeps the caller's body (the
response object echoes its settings) and the stream encoder keeps its place between chunks. For upstreams that
speak Responses natively the executor forwards the body to `upstream_path` and none of this runs.

Request mapping (Responses → chat), stricter than Helicone's where Helicone is lossy:
`instructions` → a leading system message; `input` string → one user message; input items: messages
(`developer` → `system`, the role every bridged provider knows), `function_call` items → `tool_calls` on one
assistant message (consecutive calls, and calls right after an assistant message, share it),
`function_call_output` → a `tool` message, `reasoning` items → `reasoning_content` (summary text) and, for
thinking blocks this gateway returned earlier, `thinking_blocks` with their signatures, on the next assistant
message (dropped if no assistant message follows). `tool_choice` keeps `required`; `allowed_tools` narrows
`tools`. Anything that needs server state (`previous_response_id`, `conversation`, stored `prompt`,
`background`) or an OpenAI-hosted tool is a 400 that says so — except `previous_response_id` and
`item_reference`, which the gateway resolves from the answers it keeps (`openai_responses_refs`,
`pipeline/responses_state`): the proxy hands the expanded input to the surface (`resolved`) before any attempt,
and takes the finished response (`produced`) to keep once the caller has it.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ..errors import GatewayError, bad_request
from .openai_responses_stream import (
    REDACTED_PREFIX,
    THINKING_PREFIX,
    ResponsesStreamEncoder,
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

_STATEFUL = {
    "previous_response_id": "'previous_response_id' is not supported for this model: the gateway bridges the "
    "Responses API to chat completions and keeps no responses (responses.retention_days is 0). Send the whole "
    "conversation in 'input'.",
    "conversation": "'conversation' is not supported for this model: the gateway bridges the Responses API to "
    "chat completions and keeps no conversations. Send the whole conversation in 'input'.",
    "prompt": "Stored prompts ('prompt') are not supported for this model: the gateway bridges the Responses API "
    "to chat completions. Send the prompt text in 'instructions' or 'input'.",
}
# Same meaning in both APIs.
_SHARED = (
    "temperature",
    "top_p",
    "user",
    "metadata",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "stream",
)
_TEXT = ("input_text", "output_text", "text")
_DETAIL = ("auto", "low", "high")


def _bridge(what: str, param: str) -> GatewayError:
    return bad_request(
        f"{what} not supported when the Responses API is bridged to chat completions "
        "(this model's provider has no native Responses API).",
        code="unsupported_parameter",
        param=param,
    )


# -- request ---------------------------------------------------------------------------------------


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
                    raise _bridge("Images by 'file_id' (OpenAI file storage) are", w)
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
                    raise _bridge(f"Files by {source} are", w)
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


class _History:
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
            raise _bridge(
                "'item_reference' input items (they point at stored items; this gateway keeps none: "
                "responses.retention_days is 0) are",
                where,
            )
        else:
            raise _bridge(f"Input items of type {kind!r} are", f"{where}.type")

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
            summary = r.get("summary") if isinstance(r.get("summary"), list) else []
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


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise bad_request("'tools' must be an array.", param="tools")
    out = []
    for j, t in enumerate(tools):
        kind = t.get("type") if isinstance(t, dict) else None
        if kind != "function":
            raise _bridge(f"The {kind!r} tool is", f"tools[{j}]")
        if not isinstance(t.get("name"), str) or not t["name"]:
            raise bad_request("function tools need a 'name'.", param=f"tools[{j}].name")
        fn = {"name": t["name"]}
        for k in ("description", "parameters", "strict"):
            if t.get(k) is not None:
                fn[k] = t[k]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: Any, tools: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """Responses tool_choice → (chat tool_choice or None, tools narrowed by `allowed_tools`)."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice, tools
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "function":
        if not isinstance(choice.get("name"), str) or not choice["name"]:
            raise bad_request("tool_choice of type function needs a 'name'.", param="tool_choice.name")
        return {"type": "function", "function": {"name": choice["name"]}}, tools
    if kind == "allowed_tools":
        names = set()
        for t in choice.get("tools") or ():
            if not isinstance(t, dict) or t.get("type") != "function":
                raise _bridge("allowed_tools entries other than functions are", "tool_choice.tools")
            names.add(t.get("name"))
        mode = choice.get("mode") if choice.get("mode") in ("auto", "required") else "auto"
        return mode, [t for t in tools if t["function"]["name"] in names]
    if kind is None:
        raise bad_request(
            "'tool_choice' must be 'auto', 'none', 'required' or an object.", param="tool_choice"
        )
    raise _bridge(f"tool_choice {kind!r} is", "tool_choice")


def _response_format(body: dict[str, Any], chat: dict[str, Any]) -> None:
    text = body.get("text")
    if not isinstance(text, dict):
        return
    fmt = text.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema: dict[str, Any] = {"name": fmt.get("name") or "response", "schema": fmt.get("schema") or {}}
        for k in ("description", "strict"):
            if fmt.get(k) is not None:
                schema[k] = fmt[k]
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    if text.get("verbosity") is not None:
        chat["verbosity"] = text["verbosity"]


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses create body → a chat-completions body. Raises GatewayError 400 on what chat cannot carry."""
    for key, message in _STATEFUL.items():
        if body.get(key) is not None:
            raise bad_request(message, code="unsupported_parameter", param=key)
    if body.get("background"):
        raise _bridge("Background responses ('background': true) are", "background")
    history = _History()
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        if instructions:
            history.messages.append({"role": "system", "content": instructions})
    elif isinstance(instructions, list):
        for i, item in enumerate(instructions):
            history.add(item, f"instructions[{i}]")
    elif instructions is not None:
        raise bad_request("'instructions' must be a string.", param="instructions")
    inp = body.get("input")
    if inp is None:
        raise bad_request(
            "Missing required parameter: 'input'.", code="missing_required_parameter", param="input"
        )
    if isinstance(inp, str):
        history.add({"role": "user", "content": inp}, "input")
    elif isinstance(inp, list):
        for i, item in enumerate(inp):
            history.add(item, f"input[{i}]")
    else:
        raise bad_request("'input' must be a string or an array of input items.", param="input")
    if not history.messages:
        raise bad_request("'input' must contain at least one message.", param="input")

    chat: dict[str, Any] = {"model": body.get("model"), "messages": history.messages}
    choice, tools = _tool_choice(body.get("tool_choice"), _tools(body))
    if tools:  # chat rejects tool_choice / parallel_tool_calls without tools; Responses allows them
        chat["tools"] = tools
        if choice is not None:
            chat["tool_choice"] = choice
        if isinstance(body.get("parallel_tool_calls"), bool):
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    for k in _SHARED:
        if body.get(k) is not None:
            chat[k] = body[k]
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        chat["reasoning_effort"] = reasoning["effort"]
    _response_format(body, chat)
    if body.get("stream") is True:
        chat["stream_options"] = {"include_usage": True}
    return chat


# -- response --------------------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def to_response(completion: dict[str, Any], body: dict[str, Any], *, store: bool = False) -> dict[str, Any]:
    """A chat completion → the Responses `response` object (choice 0). The id is the gateway's own (random):
    it is what a later `previous_response_id` names, so it must not repeat when a provider's ids do."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    msg = choice.get("message") or {}
    reason = incomplete_reason(choice.get("finish_reason"))
    output: list[dict[str, Any]] = []
    blocks = [b for b in msg.get("thinking_blocks") or () if isinstance(b, dict)]
    if blocks:
        output.extend(reasoning_item(*block_encrypted(b)) for b in blocks)
    elif msg.get("reasoning_content"):
        output.append(reasoning_item(msg["reasoning_content"]))
    text = _text_of(msg.get("content"))
    if text or msg.get("refusal"):
        item = message_item("completed")
        if text:
            item["content"].append(text_part(text))
        if msg.get("refusal"):
            item["content"].append({"type": "refusal", "refusal": msg["refusal"]})
        output.append(item)
    for tc in msg.get("tool_calls") or ():
        fn = tc.get("function") or {}
        output.append(
            function_call_item(tc.get("id"), fn.get("name") or "", fn.get("arguments") or "", "completed")
        )
    if reason and output and "status" in output[-1]:
        output[-1]["status"] = "incomplete"
    created = completion.get("created")
    return envelope(
        body,
        rid=new_id("resp_"),
        created_at=created if isinstance(created, int) else int(time.time()),
        model=completion.get("model") or body.get("model") or "",
        status="incomplete" if reason else "completed",
        output=output,
        usage=response_usage(completion.get("usage")),
        incomplete=reason,
        store=store,
    )


class ResponsesSurface:
    """A Responses API caller. Stateful: make one per request (it keeps the body and the stream position)."""

    object_name = "response"
    kind = "responses"  # which native API this surface is (see Executor._request)
    upstream_path = "responses"

    def __init__(self) -> None:
        self.body: dict[str, Any] = {}
        self._stream: ResponsesStreamEncoder | None = None
        self.resolved: list[Any] | None = None  # the input with previous_response_id/item_reference expanded
        self.state_error: GatewayError | None = (
            None  # why they could not be (raised for bridged attempts only)
        )
        self.keeping = False  # this answer will be kept (`store` on and the gateway keeps responses)
        self._produced: dict[str, Any] | None = None

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        self.body = body
        if self.state_error is not None:
            raise self.state_error
        if self.resolved is not None:
            return to_chat({**body, "input": self.resolved, "previous_response_id": None})
        return to_chat(body)

    def response(self, completion: dict[str, Any]) -> dict[str, Any]:
        self._produced = to_response(completion, self.body, store=self.keeping)
        return self._produced

    @property
    def produced(self) -> dict[str, Any] | None:
        """The whole response this surface answered with (non-stream, or a stream that reached its end)."""
        if self._stream is not None:
            return self._stream.final
        return self._produced

    def _encoder(self) -> ResponsesStreamEncoder:
        if self._stream is None:
            self._stream = ResponsesStreamEncoder(self.body, store=self.keeping)
        return self._stream

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        return self._encoder().chunk(chunk)

    def done(self) -> bytes:
        return self._encoder().done()

    def error_event(self, err: GatewayError) -> bytes:
        return self._encoder().error(err.code, err.message, err.param)
