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

from ..errors import GatewayError, bad_request
from .openai_responses_input import History, bridge
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
from .openai_responses_stream import ResponsesStreamEncoder

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


# -- request ---------------------------------------------------------------------------------------


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
            raise bridge(f"The {kind!r} tool is", f"tools[{j}]")
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
                raise bridge("allowed_tools entries other than functions are", "tool_choice.tools")
            names.add(t.get("name"))
        mode = choice.get("mode") if choice.get("mode") in ("auto", "required") else "auto"
        return mode, [t for t in tools if t["function"]["name"] in names]
    if kind is None:
        raise bad_request(
            "'tool_choice' must be 'auto', 'none', 'required' or an object.", param="tool_choice"
        )
    raise bridge(f"tool_choice {kind!r} is", "tool_choice")


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
        raise bridge("Background responses ('background': true) are", "background")
    history = History()
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
