"""A loopback upstream for agent loops: every provider wire the gateway speaks (OpenAI chat and Responses,
Anthropic Messages, Claude on Vertex, Bedrock Converse and InvokeModel, Gemini), answering what each request
asks (tests/support/agent_model.py) and refusing what the real provider refuses:

- Anthropic shapes (Messages, Vertex rawPredict, Bedrock InvokeModel, and Converse translated back to Anthropic's
  shape): tests/support/anthropic_rules.py, plus thinking signatures the mock did not issue, tool results without
  their tool use (and the reverse), and `max_tokens` above the model's maximum output.
- Converse: toolUse/toolResult blocks without a toolConfig.
- OpenAI: tool messages not answering the assistant's tool calls; `max_tokens` and non-default `temperature`/
  `top_p` on reasoning models; Responses `previous_response_id`/`item_reference`/`call_id` it cannot resolve.
- Gemini: a function-response turn whose parts do not match the function calls before it.

Every request is recorded in `seen` (path, headers, body).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from . import agent_model as model
from . import agent_wire as wire
from .anthropic_rules import refusal
from .mock_upstream import Seen
from .threaded_app import ThreadedApp

MAX_OUTPUT = {"claude-sonnet-4": 64000, "claude-3-7-sonnet": 64000, "claude-opus-4": 32000}
_REASONING = re.compile(r"^(o\d|gpt-5(?!-chat))")
BEDROCK_ERROR = {
    "x-amzn-errortype": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"
}


class Refused(Exception):
    pass


@dataclass
class AgentUpstream:
    host: str = "127.0.0.1"
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    _server: ThreadedApp | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _signatures: set[str] = field(default_factory=set)
    _responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # Responses store: id -> items

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> AgentUpstream:
        self._server = ThreadedApp(self._handle, name="agent-upstream", max_body=16 * 1024 * 1024)
        self.port = self._server.start(self.host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def mark(self) -> int:
        return len(self.seen)

    def since(self, mark: int, path_contains: str = "") -> list[Seen]:
        return [s for s in self.seen[mark:] if path_contains in s.path]

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):05d}"

    def _signature(self) -> str:
        sig = self._id("sig-mock-")
        self._signatures.add(sig)
        return sig

    # -- dispatch ---------------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        path = unquote(request.path)
        self.seen.append(Seen(path, {k.lower(): v for k, v in request.headers.items()}, body))
        try:
            if path.endswith("/chat/completions"):
                return self._openai_chat(body)
            if path.endswith("/responses"):
                return self._responses_api(body)
            if path.endswith("/messages/count_tokens"):
                self._anthropic_rules(body, body.get("model", ""), for_count=True)
                return web.json_response({"input_tokens": 42})
            if path.endswith("/messages"):
                return self._anthropic(body, body.get("model", ""), stream=body.get("stream") is True)
            if path.endswith(
                "/count-tokens:rawPredict"
            ):  # Vertex: the model id in the body, no anthropic_version
                self._anthropic_rules(
                    {k: v for k, v in body.items() if k != "model"}, body.get("model", ""), for_count=True
                )
                return web.json_response({"input_tokens": 42})
            if path.endswith((":rawPredict", ":streamRawPredict")):
                if body.get("anthropic_version") != "vertex-2023-10-16" or "model" in body:
                    raise Refused("anthropic_version: vertex-2023-10-16 required; model belongs in the URL")
                return self._anthropic(
                    body, path.rsplit("/", 1)[-1].split(":")[0], stream=path.endswith(":streamRawPredict")
                )
            if "/model/" in path:
                return self._bedrock(path, body)
            if ":generateContent" in path or ":streamGenerateContent" in path:
                return self._gemini(path, body)
        except Refused as why:
            return _refusal(path, str(why))
        return web.json_response({"error": {"message": f"agent mock has no route {path}"}}, status=404)

    # -- OpenAI -----------------------------------------------------------------------------------------------
    def _openai_chat(self, body: dict[str, Any]) -> web.Response:
        _openai_params(body, "max_tokens")
        _tool_pairs_openai(body.get("messages") or [])
        turn = model.decide(model.read_openai_chat(body), lambda: self._id("call_m"))
        rid = self._id("chatcmpl-m")
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return _sse(wire.openai_chat_stream(turn, body["model"], rid, include))
        return web.json_response(wire.openai_chat(turn, body["model"], rid))

    def _responses_api(self, body: dict[str, Any]) -> web.Response:
        _openai_params(body, None)
        earlier: list[dict[str, Any]] = []
        prev = body.get("previous_response_id")
        if prev:
            if prev not in self._responses:
                raise Refused(f"Previous response with id '{prev}' not found.")
            earlier = self._responses[prev]
        known = {i.get("id"): i for i in earlier + list(self._responses_items())}
        items = body.get("input") if isinstance(body.get("input"), list) else []
        resolved = []
        for item in items:
            if item.get("type") == "item_reference":
                if item.get("id") not in known:
                    raise Refused(f"Item with id '{item.get('id')}' not found.")
                item = known[item["id"]]
            resolved.append(item)
        calls = {i.get("call_id") for i in earlier + resolved if i.get("type") == "function_call"}
        for item in resolved:
            if item.get("type") == "function_call_output" and item.get("call_id") not in calls:
                raise Refused(
                    f"No tool call found for function call output with call_id {item.get('call_id')}."
                )
        turn = model.decide(
            model.read_responses({**body, "input": resolved}, earlier), lambda: self._id("call_m")
        )
        rid = self._id("resp_m")
        done = wire.responses(turn, body["model"], rid, body)
        if body.get("store", True):
            self._responses[rid] = earlier + resolved + done["output"]
        return _sse(wire.responses_stream(done)) if body.get("stream") else web.json_response(done)

    def _responses_items(self) -> list[dict[str, Any]]:
        return [i for items in self._responses.values() for i in items if i.get("id")]

    # -- Anthropic shapes ---------------------------------------------------------------------------------------
    def _anthropic_rules(self, body: dict[str, Any], model_id: str, *, for_count: bool = False) -> None:
        why = refusal(body) or _tool_pairs_anthropic(body.get("messages") or [])
        if not why and not for_count:
            why = _max_output(body.get("max_tokens"), model_id)
        for m in body.get("messages") or []:
            for block in m.get("content") if isinstance(m.get("content"), list) else []:
                if block.get("type") == "thinking" and block.get("signature") not in self._signatures:
                    why = why or "messages: Invalid `signature` in `thinking` block"
        if why:
            raise Refused(why)

    def _anthropic(self, body: dict[str, Any], model_id: str, *, stream: bool) -> web.Response:
        self._anthropic_rules(body, model_id)
        turn = model.decide(model.read_anthropic(body), lambda: self._id("toolu_m"))
        rid, sig = self._id("msg_m"), self._signature()
        if stream:
            return _sse(wire.anthropic_stream(turn, model_id, rid, sig))
        return web.json_response(wire.anthropic(turn, model_id, rid, sig))

    # -- Bedrock ------------------------------------------------------------------------------------------------
    def _bedrock(self, path: str, body: dict[str, Any]) -> web.Response:
        model_id, action = path.split("/model/", 1)[1].rsplit("/", 1)
        if action == "count-tokens":  # CountTokens: the InvokeModel body, base64-encoded
            inner = json.loads(base64.b64decode(body["input"]["invokeModel"]["body"]))
            if inner.get("anthropic_version") != "bedrock-2023-05-31" or "model" in inner:
                raise Refused("anthropic_version: bedrock-2023-05-31 required; model belongs in the URL")
            self._anthropic_rules(inner, model_id, for_count=True)
            return web.json_response({"inputTokens": 42})
        if action in ("invoke", "invoke-with-response-stream"):
            if body.get("anthropic_version") != "bedrock-2023-05-31" or "model" in body:
                raise Refused("anthropic_version: bedrock-2023-05-31 required; model belongs in the URL")
            self._anthropic_rules(body, model_id)
            turn = model.decide(model.read_anthropic(body), lambda: self._id("toolu_bdrk_m"))
            rid, sig = self._id("msg_bdrk_m"), self._signature()
            if action == "invoke":
                return web.json_response(wire.anthropic(turn, model_id, rid, sig))
            return web.Response(
                body=wire.invoke_stream(turn, model_id, rid, sig),
                content_type="application/vnd.amazon.eventstream",
            )
        messages = body.get("messages") or []
        if "toolConfig" not in body and any(
            "toolUse" in b or "toolResult" in b for m in messages for b in m.get("content", [])
        ):
            raise Refused(
                "The toolConfig field must be defined when using toolUse and toolResult content blocks."
            )
        self._anthropic_rules(converse_as_anthropic(body), model_id)
        turn = model.decide(model.read_converse(body), lambda: self._id("tooluse_m"))
        sig = self._signature()
        if action == "converse-stream":
            return web.Response(
                body=wire.converse_stream(turn, sig), content_type="application/vnd.amazon.eventstream"
            )
        return web.json_response(wire.converse(turn, sig))

    # -- Gemini -------------------------------------------------------------------------------------------------
    def _gemini(self, path: str, body: dict[str, Any]) -> web.Response:
        contents = body.get("contents") or []
        for i in range(1, len(contents)):
            responses = sum("functionResponse" in p for p in contents[i].get("parts", []))
            calls = sum("functionCall" in p for p in contents[i - 1].get("parts", []))
            if responses and responses != calls:
                raise Refused(
                    "Please ensure that the number of function response parts is equal to the number of "
                    "function call parts of the function call turn."
                )
        name = path.rsplit("/", 1)[-1].split(":")[0]
        turn = model.decide(model.read_gemini(body), lambda: "")
        if ":streamGenerateContent" in path:
            return _sse(wire.gemini_stream(turn, name))
        return web.json_response(wire.gemini(turn, name))


# --- rules ---------------------------------------------------------------------------------------------------------


def _openai_params(body: dict[str, Any], max_tokens_field: str | None) -> None:
    if not _REASONING.match(str(body.get("model", ""))):
        return
    if max_tokens_field and body.get(max_tokens_field) is not None:
        raise Refused(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
        )
    for name in ("temperature", "top_p"):
        if body.get(name) not in (None, 1):
            raise Refused(
                f"Unsupported value: '{name}' does not support {body[name]} with this model. Only the default (1) value is supported."
            )


def _tool_pairs_openai(messages: list[dict[str, Any]]) -> None:
    open_ids: set[str] = set()
    for m in messages:
        if m.get("role") == "tool":
            if m.get("tool_call_id") not in open_ids:
                raise Refused(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
                )
            open_ids.discard(m["tool_call_id"])
            continue
        if open_ids:
            raise Refused(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(sorted(open_ids))}"
            )
        open_ids = {c["id"] for c in m.get("tool_calls") or []}


def _tool_pairs_anthropic(messages: list[dict[str, Any]]) -> str | None:
    for i, m in enumerate(messages):
        blocks = m.get("content") if isinstance(m.get("content"), list) else []
        uses = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        after = messages[i + 1].get("content") if i + 1 < len(messages) else None
        results = (
            {b.get("tool_use_id") for b in after if b.get("type") == "tool_result"}
            if isinstance(after, list)
            else set()
        )
        missing = [u for u in uses if u not in results]
        if uses and missing and i + 1 < len(messages):
            return (
                f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{missing[0]}. Each `tool_use` block must have a corresponding `tool_result` block in the next message."
            )
        if m.get("role") == "user":
            before = messages[i - 1].get("content") if i else None
            ids = (
                {b.get("id") for b in before if b.get("type") == "tool_use"}
                if isinstance(before, list)
                else set()
            )
            for j, b in enumerate(blocks):
                if b.get("type") == "tool_result" and b.get("tool_use_id") not in ids:
                    return (
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{b.get('tool_use_id')}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    )
    return None


def _max_output(max_tokens: Any, model_id: str) -> str | None:
    bare = re.sub(r"^(?:[a-z]{2,4}\.)?anthropic\.", "", model_id)
    for prefix, ceiling in MAX_OUTPUT.items():
        if bare.startswith(prefix) and isinstance(max_tokens, int) and max_tokens > ceiling:
            return (
                f"max_tokens: {max_tokens} > {ceiling}, which is the maximum allowed number of output tokens "
                f"for {model_id}"
            )
    return None


def converse_as_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    """A Converse body in Anthropic's shape, so that anthropic_rules judge it (Bedrock applies Claude's rules)."""
    inference = body.get("inferenceConfig") or {}
    extra = body.get("additionalModelRequestFields") or {}
    choice = (body.get("toolConfig") or {}).get("toolChoice") or {}
    out: dict[str, Any] = {
        "max_tokens": inference.get("maxTokens", 4096),
        "messages": [
            {"role": m["role"], "content": [_block(b) for b in m.get("content", [])]}
            for m in body.get("messages") or []
        ],
    }
    for src, dst in (("temperature", "temperature"), ("topP", "top_p")):
        if src in inference:
            out[dst] = inference[src]
    for key in ("thinking", "top_k"):
        if key in extra:
            out[key] = extra[key]
    if choice:
        kind = next(iter(choice))
        out["tool_choice"] = {"type": kind, **(choice[kind] or {})}
    return out


def _block(b: dict[str, Any]) -> dict[str, Any]:
    if "toolUse" in b:
        return {"type": "tool_use", "id": b["toolUse"]["toolUseId"], "name": b["toolUse"]["name"]}
    if "toolResult" in b:
        return {"type": "tool_result", "tool_use_id": b["toolResult"]["toolUseId"]}
    if "reasoningContent" in b:
        text = b["reasoningContent"].get("reasoningText")
        return (
            {"type": "thinking", "signature": text.get("signature")}
            if text
            else {"type": "redacted_thinking"}
        )
    return {"type": "text"}


def _sse(data: bytes) -> web.Response:
    return web.Response(body=data, headers={"content-type": "text/event-stream; charset=utf-8"})


def _refusal(path: str, message: str) -> web.Response:
    if "/model/" in path:
        return web.json_response({"message": message}, status=400, headers=BEDROCK_ERROR)
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return web.json_response(
            {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}, status=400
        )
    if path.endswith(("/messages", "/count_tokens", "Predict")):
        return web.json_response(
            {"type": "error", "error": {"type": "invalid_request_error", "message": message}}, status=400
        )
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}},
        status=400,
    )
