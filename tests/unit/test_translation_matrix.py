"""One conversation, every provider, both directions.

Request direction: a single OpenAI chat body (system prompt, several user/assistant turns, a user image
as a data: URL, an assistant turn with two parallel tool calls, both tool results, a final question,
tools with nested JSON-Schema parameters) goes through each provider's `build_request`, streamed and
not. The translated body is read back into one normalised view per wire format and compared with what
was sent: every text, the image, both calls, both results bound to the right call, the tools, the
system prompt, max tokens and the stream flag.

Response direction: for each provider one native answer (text + two tool calls + usage) in non-stream
and stream form. The envelopes are taken from the recorded traffic (../shared/fixtures/wire) and the
synthetic Bedrock fixtures; only the content is replaced so that every provider carries the same
answer. Both forms must normalise to the same expectations, and the streams must give that result
whether fed whole or in 1–5-byte pieces.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from fixtures.synthetic.bedrock.eventstream import encode
from support.wire import exchange, stream
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.azure import AzureProvider
from switchyard.providers.base import Target
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.gemini import GeminiProvider
from switchyard.providers.openai import OpenAIProvider

NOW = 1_700_000_000


# --- the conversation ------------------------------------------------------------------------------


def _png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, RGB, 8-bit) PNG: signature, IHDR, IDAT, IEND with correct CRCs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG_B64 = base64.b64encode(_png()).decode()
IMAGE_URL = f"data:image/png;base64,{PNG_B64}"

SYSTEM = "You are a terse travel assistant. Answer in one sentence."
USER_1 = "Hi! I'm planning a trip to Paris next week."
ASSISTANT_1 = "Great choice. What would you like to know?"
USER_2 = "What's in this photo? I took it on my last trip — “café” sign included."
ASSISTANT_2 = "Let me check the weather and the local time for you."
USER_3 = "So: umbrella or not, and is it too late to call the hotel?"

WEATHER_ARGS = {"city": "Paris", "units": {"temperature": "celsius", "wind": "kmh"}, "days": 2}
TIME_ARGS = {"timezone": "Europe/Paris"}
WEATHER_RESULT = {"temp_c": 14, "sky": "rain", "hourly": [{"h": 9, "rain_mm": 1.5}]}
TIME_RESULT = "21:05 CEST"

CALLS = [("call_weather_01", "get_weather", WEATHER_ARGS), ("call_time_02", "get_local_time", TIME_ARGS)]
RESULTS = [("call_weather_01", WEATHER_RESULT), ("call_time_02", TIME_RESULT)]

WEATHER_PARAMS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "units": {
            "type": "object",
            "description": "Measurement units",
            "properties": {
                "temperature": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "wind": {"type": "string", "enum": ["kmh", "mph"]},
            },
            "required": ["temperature"],
            "additionalProperties": False,
        },
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "hours": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["city", "units"],
    "additionalProperties": False,
}
TIME_PARAMS = {
    "type": "object",
    "properties": {"timezone": {"type": "string", "description": "IANA zone"}},
    "required": ["timezone"],
    "additionalProperties": False,
}
TOOLS = [
    ("get_weather", "Weather forecast for a city", WEATHER_PARAMS),
    ("get_local_time", "Current local time in a zone", TIME_PARAMS),
]
MAX_TOKENS = 321

# (role, text) of every non-system message, in order; tool results are checked separately.
TEXTS = [
    ("user", USER_1),
    ("assistant", ASSISTANT_1),
    ("user", USER_2),
    ("assistant", ASSISTANT_2),
    ("user", USER_3),
]


def conversation(stream_flag: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "caller-model",
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER_1},
            {"role": "assistant", "content": ASSISTANT_1},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": USER_2},
                    {"type": "image_url", "image_url": {"url": IMAGE_URL}},
                ],
            },
            {
                "role": "assistant",
                "content": ASSISTANT_2,
                "tool_calls": [
                    {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                    for cid, name, args in CALLS
                ],
            },
            {"role": "tool", "tool_call_id": "call_weather_01", "content": json.dumps(WEATHER_RESULT)},
            {"role": "tool", "tool_call_id": "call_time_02", "content": TIME_RESULT},
            {"role": "user", "content": USER_3},
        ],
        "tools": [
            {"type": "function", "function": {"name": n, "description": d, "parameters": p}}
            for n, d, p in TOOLS
        ],
        "max_tokens": MAX_TOKENS,
    }
    if stream_flag:
        body["stream"] = True
    return body


# --- providers -----------------------------------------------------------------------------------------


PROVIDERS: dict[str, tuple[Any, Target]] = {
    "openai": (
        OpenAIProvider(),
        Target("openai", "gpt-4o", "openai", "https://api.openai.com/v1", api_key="sk-test"),
    ),
    "azure": (
        AzureProvider(),
        Target(
            "azure",
            "gpt-4o",
            "azure",
            "https://res.openai.azure.com",
            api_key="az-test",
            auth="api-key",
            config={"deployment": "gpt4o-prod", "api_version": "2024-10-21"},
        ),
    ),
    "anthropic": (
        AnthropicProvider(),
        Target(
            "anthropic",
            "claude-sonnet-4-5",
            "anthropic",
            "https://api.anthropic.com/v1",
            api_key="sk-ant-test",
            auth="x-api-key",
        ),
    ),
    "gemini": (
        GeminiProvider(clock=lambda: NOW),
        Target(
            "google-ai-studio",
            "gemini-2.5-flash",
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            api_key="AIza-test",
            auth="goog-api-key",
        ),
    ),
    "bedrock": (
        BedrockProvider(clock=lambda: NOW),
        Target(
            "bedrock",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "bedrock",
            "https://bedrock-runtime.{region}.amazonaws.com",
            api_key="AKIDEXAMPLE",
            config={"region": "us-east-1", "secret_key": "secret"},
        ),
    ),
}


# --- request direction: read each wire format back into one view ----------------------------------------


@dataclass
class Seen:
    system: list[str] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (user|assistant, text)
    images: list[tuple[str, bytes]] = field(default_factory=list)  # (mime, decoded bytes)
    calls: list[tuple[str | None, str, Any]] = field(default_factory=list)  # (id, name, arguments)
    results: list[tuple[str, Any]] = field(default_factory=list)  # (call id, or function name, value)
    tools: list[tuple[str, str | None, Any]] = field(default_factory=list)  # (name, description, schema)
    max_tokens: int | None = None
    stream: bool = False
    # Positions (index into the provider's turn list) of the turn with the calls and of the results.
    call_turns: list[int] = field(default_factory=list)
    result_turns: list[int] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)


def _value(raw: Any) -> Any:
    """A tool result as the model sees it: JSON text is compared as JSON, other text as text."""
    if isinstance(raw, list):
        raw = "".join(b.get("text", "") for b in raw if isinstance(b, dict))
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _data_url(url: str) -> tuple[str, bytes]:
    header, _, data = url[5:].partition(",")
    assert ";base64" in header
    return header.split(";")[0], base64.b64decode(data)


def read_openai(body: dict[str, Any], url: str) -> Seen:
    seen = Seen(max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"))
    seen.stream = body.get("stream") is True
    for m in body["messages"]:
        role, content = m["role"], m.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        if role in ("system", "developer"):
            seen.system += [p["text"] for p in parts]
            continue
        seen.roles.append(role)
        i = len(seen.roles) - 1
        if role == "tool":
            seen.results.append((m["tool_call_id"], _value(content)))
            seen.result_turns.append(i)
            continue
        for p in parts:
            if p["type"] == "text":
                seen.texts.append((role, p["text"]))
            elif p["type"] == "image_url":
                seen.images.append(_data_url(p["image_url"]["url"]))
        for call in m.get("tool_calls") or []:
            fn = call["function"]
            seen.calls.append((call["id"], fn["name"], json.loads(fn["arguments"])))
            seen.call_turns.append(i)
    for t in body.get("tools") or []:
        fn = t["function"]
        seen.tools.append((fn["name"], fn.get("description"), fn.get("parameters")))
    return seen


def read_anthropic(body: dict[str, Any], url: str) -> Seen:
    seen = Seen(max_tokens=body.get("max_tokens"), stream=body.get("stream") is True)
    system = body.get("system")
    if isinstance(system, str):
        seen.system.append(system)
    elif isinstance(system, list):
        seen.system += [b["text"] for b in system]
    for i, m in enumerate(body["messages"]):
        seen.roles.append(m["role"])
        content = m["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for b in blocks:
            if b["type"] == "text":
                seen.texts.append((m["role"], b["text"]))
            elif b["type"] == "image":
                src = b["source"]
                assert src["type"] == "base64"
                seen.images.append((src["media_type"], base64.b64decode(src["data"])))
            elif b["type"] == "tool_use":
                seen.calls.append((b["id"], b["name"], b["input"]))
                seen.call_turns.append(i)
            elif b["type"] == "tool_result":
                seen.results.append((b["tool_use_id"], _value(b.get("content"))))
                seen.result_turns.append(i)
    for t in body.get("tools") or []:
        seen.tools.append((t["name"], t.get("description"), t.get("input_schema")))
    return seen


def read_gemini(body: dict[str, Any], url: str) -> Seen:
    config = body.get("generationConfig") or {}
    seen = Seen(max_tokens=config.get("maxOutputTokens"))
    seen.stream = ":streamGenerateContent" in url and "alt=sse" in url
    seen.system = [p["text"] for p in (body.get("systemInstruction") or {}).get("parts", [])]
    for i, turn in enumerate(body["contents"]):
        role = {"model": "assistant", "user": "user"}[turn["role"]]
        seen.roles.append(role)
        for p in turn["parts"]:
            if "text" in p:
                if p["text"]:
                    seen.texts.append((role, p["text"]))
            elif "inlineData" in p:
                seen.images.append((p["inlineData"]["mimeType"], base64.b64decode(p["inlineData"]["data"])))
            elif "functionCall" in p:
                seen.calls.append((None, p["functionCall"]["name"], p["functionCall"].get("args", {})))
                seen.call_turns.append(i)
            elif "functionResponse" in p:
                fr = p["functionResponse"]
                response = fr["response"]
                # functionResponse.response must be an object: plain text travels as {"result": text}.
                if set(response) == {"result"} and isinstance(response["result"], str):
                    response = response["result"]
                seen.results.append((fr["name"], response))
                seen.result_turns.append(i)
    for tool in body.get("tools") or []:
        for decl in tool.get("functionDeclarations") or []:
            seen.tools.append((decl["name"], decl.get("description"), decl.get("parameters")))
    return seen


def read_bedrock(body: dict[str, Any], url: str) -> Seen:
    seen = Seen(max_tokens=(body.get("inferenceConfig") or {}).get("maxTokens"))
    seen.stream = url.endswith("/converse-stream")
    seen.system = [b["text"] for b in body.get("system") or [] if "text" in b]
    for i, m in enumerate(body["messages"]):
        seen.roles.append(m["role"])
        for b in m["content"]:
            if "text" in b:
                seen.texts.append((m["role"], b["text"]))
            elif "image" in b:
                img = b["image"]
                seen.images.append((f"image/{img['format']}", base64.b64decode(img["source"]["bytes"])))
            elif "toolUse" in b:
                use = b["toolUse"]
                seen.calls.append((use["toolUseId"], use["name"], use["input"]))
                seen.call_turns.append(i)
            elif "toolResult" in b:
                res = b["toolResult"]
                values = [c["json"] if "json" in c else c["text"] for c in res["content"]]
                assert len(values) == 1, res
                seen.results.append((res["toolUseId"], _value(values[0])))
                seen.result_turns.append(i)
    for t in (body.get("toolConfig") or {}).get("tools") or []:
        spec = t["toolSpec"]
        seen.tools.append((spec["name"], spec.get("description"), spec["inputSchema"]["json"]))
    return seen


READERS: dict[str, Callable[[dict[str, Any], str], Seen]] = {
    "openai": read_openai,
    "azure": read_openai,
    "anthropic": read_anthropic,
    "gemini": read_gemini,
    "bedrock": read_bedrock,
}


def _gemini_form(schema: Any) -> Any:
    """What a JSON Schema looks like once it is a Gemini (OpenAPI-subset) schema, compared loosely:
    type names in one case, no `additionalProperties` (Gemini's function declarations do not take
    it; it is the only keyword of this conversation's schemas that Gemini lacks)."""
    if isinstance(schema, dict):
        out = {}
        for k, v in schema.items():
            if k == "additionalProperties":
                continue
            if k == "type" and isinstance(v, str):
                out[k] = v.lower()
            elif k == "properties":
                out[k] = {name: _gemini_form(s) for name, s in v.items()}
            else:
                out[k] = _gemini_form(v)
        return out
    if isinstance(schema, list):
        return [_gemini_form(s) for s in schema]
    return schema


def translate(name: str, stream_flag: bool) -> tuple[Any, Seen]:
    provider, target = PROVIDERS[name]
    req = provider.build_request(conversation(stream_flag), target)
    body = json.loads(req.body)  # the standard library's strict parser: valid JSON on the wire
    return req, READERS[name](body, req.url)


@pytest.mark.parametrize("stream_flag", [False, True], ids=["non-stream", "stream"])
@pytest.mark.parametrize("name", list(PROVIDERS))
class TestRequestKeepsTheConversation:
    def test_system_prompt(self, name: str, stream_flag: bool) -> None:
        _, seen = translate(name, stream_flag)
        assert seen.system == [SYSTEM]

    def test_every_message_text_in_order(self, name: str, stream_flag: bool) -> None:
        _, seen = translate(name, stream_flag)
        assert seen.texts == TEXTS

    def test_image(self, name: str, stream_flag: bool) -> None:
        _, seen = translate(name, stream_flag)
        assert seen.images == [("image/png", _png())]

    def test_both_tool_calls(self, name: str, stream_flag: bool) -> None:
        _, seen = translate(name, stream_flag)
        assert [(n, a) for _, n, a in seen.calls] == [(n, a) for _, n, a in CALLS]
        # both calls ride in one assistant turn (they were one parallel call)
        assert len(set(seen.call_turns)) == 1
        assert seen.roles[seen.call_turns[0]] == "assistant"

    def test_tool_results_bound_to_their_calls(self, name: str, stream_flag: bool) -> None:
        _, seen = translate(name, stream_flag)
        assert [v for _, v in seen.results] == [v for _, v in RESULTS]
        if name == "gemini":  # Gemini binds a functionResponse to its functionCall by name and order
            names = dict((cid, n) for cid, n, _ in CALLS)
            assert [ref for ref, _ in seen.results] == [names[cid] for cid, _ in RESULTS]
        else:
            sent_to_wire = {orig: wire for (orig, _, _), (wire, _, _) in zip(CALLS, seen.calls, strict=True)}
            assert [ref for ref, _ in seen.results] == [sent_to_wire[cid] for cid, _ in RESULTS]
            assert len(set(sent_to_wire.values())) == 2
        if name not in ("openai", "azure"):
            # the results answer the call turn: they sit together in the turn right after it
            assert set(seen.result_turns) == {seen.call_turns[0] + 1}
            assert seen.roles[seen.call_turns[0] + 1] == "user"

    def test_tool_definitions(self, name: str, stream_flag: bool) -> None:
        _, seen = translate(name, stream_flag)
        if name == "gemini":
            assert [(n, d, _gemini_form(p)) for n, d, p in seen.tools] == [
                (n, d, _gemini_form(p)) for n, d, p in TOOLS
            ]
        else:  # JSON Schema carried verbatim, `additionalProperties: false` included
            assert seen.tools == TOOLS

    def test_max_tokens_and_stream_flag(self, name: str, stream_flag: bool) -> None:
        req, seen = translate(name, stream_flag)
        assert seen.max_tokens == MAX_TOKENS
        assert seen.stream is stream_flag
        assert req.stream is stream_flag


@pytest.mark.parametrize("stream_flag", [False, True], ids=["non-stream", "stream"])
@pytest.mark.parametrize("name", ["anthropic", "bedrock"])
def test_turns_alternate_from_user(name: str, stream_flag: bool) -> None:
    """Anthropic and Converse take strictly alternating turns, starting with the user."""
    _, seen = translate(name, stream_flag)
    assert seen.roles[0] == "user"
    assert all(a != b for a, b in zip(seen.roles, seen.roles[1:], strict=False))


def test_caller_body_is_not_mutated() -> None:
    for name, (provider, target) in PROVIDERS.items():
        for flag in (False, True):
            body = conversation(flag)
            before = copy.deepcopy(body)
            provider.build_request(body, target)
            assert body == before, name


# --- response direction: one answer in every provider's native form -----------------------------------

ANSWER = "I'll look up the forecast for Paris and the local time there."
ANSWER_CALLS = [
    ("get_weather", {"city": "Paris", "units": {"temperature": "celsius", "wind": "kmh"}, "days": 2}),
    ("get_local_time", {"timezone": "Europe/Paris"}),
]
PROMPT_TOKENS, COMPLETION_TOKENS = 412, 57
IDS = {  # provider-native call ids (Gemini has none: the translator numbers the calls)
    "openai": ["call_JMW1whyEaYG438VE1OIflxA2", "call_DNYTawLBoN8fj3KN6qU9N1Ou"],
    "anthropic": ["toolu_01NRLabsLyVHZPKxbKvkfSMn", "toolu_01X9wcHKKAZD9tBC711xipPa"],
    "bedrock": ["tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "tooluse_9bq3QnJbTgS2o0bqk0RkWw"],
}


def _pieces(text: str, n: int) -> list[str]:
    """`text` cut into n non-empty pieces at fixed, uneven points (streams send arguments in fragments)."""
    cuts = sorted({max(1, len(text) * k // (n + 1) + k) for k in range(1, n)})
    cuts = [c for c in cuts if c < len(text)]
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def _sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) pairs of a recorded SSE body (LF or CRLF framed)."""
    out = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data:
            out.append((name, "\n".join(data)))
    return out


# OpenAI ---------------------------------------------------------------------------------------------


def openai_body() -> bytes:
    body = copy.deepcopy(exchange("openai/chat_completion_tool_calls.json")["response"]["body"])
    message = body["choices"][0]["message"]
    message["content"] = ANSWER
    message["tool_calls"] = [
        {"id": cid, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
        for cid, (n, a) in zip(IDS["openai"], ANSWER_CALLS, strict=True)
    ]
    body["usage"].update(
        prompt_tokens=PROMPT_TOKENS,
        completion_tokens=COMPLETION_TOKENS,
        total_tokens=PROMPT_TOKENS + COMPLETION_TOKENS,
    )
    return json.dumps(body).encode()


def openai_stream() -> bytes:
    """The recorded parallel-tool-call stream's envelope and chunk shapes, carrying this answer."""
    recorded = [
        json.loads(d)
        for _, d in _sse_events(stream("openai/chat_completion_stream_parallel_tool_calls.sse"))
        if d != "[DONE]"
    ]
    envelope = {k: v for k, v in recorded[0].items() if k != "choices"}
    role_chunk, usage_chunk = recorded[0], recorded[-1]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            **envelope,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    chunks = [role_chunk] + [chunk({"content": p}) for p in _pieces(ANSWER, 4)]
    for i, (cid, (n, a)) in enumerate(zip(IDS["openai"], ANSWER_CALLS, strict=True)):
        start = {"index": i, "id": cid, "type": "function", "function": {"name": n, "arguments": ""}}
        chunks.append(chunk({"tool_calls": [start]}))
        for piece in _pieces(json.dumps(a), 5):
            chunks.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    chunks.append(chunk({}, "tool_calls"))
    usage = copy.deepcopy(usage_chunk)
    usage["usage"].update(
        prompt_tokens=PROMPT_TOKENS,
        completion_tokens=COMPLETION_TOKENS,
        total_tokens=PROMPT_TOKENS + COMPLETION_TOKENS,
    )
    chunks.append(usage)
    return (
        b"".join(f"data: {json.dumps(c, separators=(',', ':'))}\n\n".encode() for c in chunks)
        + b"data: [DONE]\n\n"
    )


# Anthropic ------------------------------------------------------------------------------------------


def anthropic_body() -> bytes:
    body = copy.deepcopy(exchange("anthropic/messages_tool_use.json")["response"]["body"])
    body["content"] = [{"type": "text", "text": ANSWER}] + [
        {"id": cid, "input": a, "name": n, "type": "tool_use"}
        for cid, (n, a) in zip(IDS["anthropic"], ANSWER_CALLS, strict=True)
    ]
    body["stop_reason"] = "tool_use"
    body["usage"].update(input_tokens=PROMPT_TOKENS, output_tokens=COMPLETION_TOKENS)
    return json.dumps(body).encode()


def anthropic_stream() -> bytes:
    """The recorded tool-use stream (message_start, ping, text block, tool_use blocks with the recorded
    `caller` field, empty first `partial_json`, message_delta, message_stop and no trailing blank line),
    re-cut to carry this answer's text and two tool calls."""
    recorded = [(n, json.loads(d)) for n, d in _sse_events(stream("anthropic/messages_stream_tool_use.sse"))]
    first = {}
    for n, d in recorded:
        key = (n, d.get("content_block", {}).get("type"), d.get("delta", {}).get("type"))
        first.setdefault(key, d)
    start = copy.deepcopy(first[("message_start", None, None)])
    start["message"]["usage"]["input_tokens"] = PROMPT_TOKENS
    text_start = first[("content_block_start", "text", None)]
    tool_start = first[("content_block_start", "tool_use", None)]
    text_delta = first[("content_block_delta", None, "text_delta")]
    json_delta = first[("content_block_delta", None, "input_json_delta")]
    stop = first[("content_block_stop", None, None)]
    message_delta = copy.deepcopy(first[("message_delta", None, None)])
    message_delta["usage"]["output_tokens"] = COMPLETION_TOKENS

    def at(template: dict[str, Any], index: int, **changes: Any) -> dict[str, Any]:
        ev = copy.deepcopy(template)
        ev["index"] = index
        for path, value in changes.items():
            outer, inner = path.split("__")
            ev[outer][inner] = value
        return ev

    events: list[tuple[str, Any]] = [("message_start", start), ("content_block_start", at(text_start, 0))]
    events.append(("ping", '{"type": "ping"}'))  # verbatim, as recorded
    events += [("content_block_delta", at(text_delta, 0, delta__text=p)) for p in _pieces(ANSWER, 3)]
    events.append(("content_block_stop", at(stop, 0)))
    for i, (cid, (n, a)) in enumerate(zip(IDS["anthropic"], ANSWER_CALLS, strict=True), start=1):
        events.append(("content_block_start", at(tool_start, i, content_block__id=cid)))
        events[-1][1]["content_block"]["name"] = n
        events.append(("content_block_delta", at(json_delta, i, delta__partial_json="")))
        events += [
            ("content_block_delta", at(json_delta, i, delta__partial_json=p))
            for p in _pieces(json.dumps(a), 4)
        ]
        events.append(("content_block_stop", at(stop, i)))
    events += [("message_delta", message_delta), ("message_stop", {"type": "message_stop"})]
    text = "\n\n".join(
        f"event: {n}\ndata: {d if isinstance(d, str) else json.dumps(d, separators=(',', ':'))}"
        for n, d in events
    )
    return text.encode()  # like the recording: no blank line after the last event


# Gemini ---------------------------------------------------------------------------------------------


def _gemini_usage(completion: int) -> dict[str, Any]:
    return {
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": completion,
        "totalTokenCount": PROMPT_TOKENS + completion,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
    }


def gemini_body() -> bytes:
    body = copy.deepcopy(exchange("gemini/generate_content_function_call.json")["response"]["body"])
    body["candidates"][0]["content"]["parts"] = [{"text": ANSWER}] + [
        {"functionCall": {"args": a, "name": n}} for n, a in ANSWER_CALLS
    ]
    body["usageMetadata"] = _gemini_usage(COMPLETION_TOKENS)
    return json.dumps(body).encode()


def _gemini_stream(calls_apart: bool) -> bytes:
    """The recorded function-call chunk as the envelope (responseId, modelVersion, usageMetadata in every
    chunk, cumulative; CRLF framing), text in two deltas, function calls whole (Gemini never splits a
    call's arguments) either together in the final chunk or one per chunk."""
    ((_, raw),) = _sse_events(stream("gemini/stream_generate_content_function_call.sse"))
    template = json.loads(raw)

    def chunk(parts: list[dict[str, Any]], completion: int, finish: str | None = None) -> dict[str, Any]:
        c = copy.deepcopy(template)
        cand = c["candidates"][0]
        cand["content"]["parts"] = parts
        cand.pop("finishReason", None)
        if finish:
            cand["finishReason"] = finish
        c["usageMetadata"] = _gemini_usage(completion)
        return c

    half = len(ANSWER) // 2
    calls = [{"functionCall": {"name": n, "args": a}} for n, a in ANSWER_CALLS]
    chunks = [chunk([{"text": ANSWER[:half]}], 9), chunk([{"text": ANSWER[half:]}], 18)]
    if calls_apart:
        chunks += [chunk([calls[0]], 40), chunk([calls[1]], COMPLETION_TOKENS, "STOP")]
    else:
        chunks.append(chunk(calls, COMPLETION_TOKENS, "STOP"))
    return b"".join(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks)


# Bedrock --------------------------------------------------------------------------------------------


def bedrock_body() -> bytes:
    body = copy.deepcopy(exchange("bedrock/converse_tool_use.json")["response"]["body"])
    body["output"]["message"]["content"] = [{"text": ANSWER}] + [
        {"toolUse": {"toolUseId": cid, "name": n, "input": a}}
        for cid, (n, a) in zip(IDS["bedrock"], ANSWER_CALLS, strict=True)
    ]
    body["stopReason"] = "tool_use"
    body["usage"] = {
        "inputTokens": PROMPT_TOKENS,
        "outputTokens": COMPLETION_TOKENS,
        "totalTokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }
    return json.dumps(body).encode()


def bedrock_stream() -> bytes:
    """SYNTHETIC, like tests/fixtures/synthetic/bedrock (no recording exists): the ConverseStream event
    sequence from the AWS API reference (messageStart, contentBlockDelta text, contentBlockStart toolUse,
    contentBlockDelta toolUse.input fragments, contentBlockStop, messageStop, metadata.usage), framed by
    the test-only event-stream encoder."""
    items: list[dict[str, Any]] = [{"event": "messageStart", "payload": {"role": "assistant"}}]
    items += [
        {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 0, "delta": {"text": p}}}
        for p in _pieces(ANSWER, 3)
    ]
    items.append({"event": "contentBlockStop", "payload": {"contentBlockIndex": 0}})
    for i, (cid, (n, a)) in enumerate(zip(IDS["bedrock"], ANSWER_CALLS, strict=True), start=1):
        items.append(
            {
                "event": "contentBlockStart",
                "payload": {"contentBlockIndex": i, "start": {"toolUse": {"toolUseId": cid, "name": n}}},
            }
        )
        items += [
            {
                "event": "contentBlockDelta",
                "payload": {"contentBlockIndex": i, "delta": {"toolUse": {"input": p}}},
            }
            for p in _pieces(json.dumps(a), 4)
        ]
        items.append({"event": "contentBlockStop", "payload": {"contentBlockIndex": i}})
    items.append({"event": "messageStop", "payload": {"stopReason": "tool_use"}})
    usage = {
        "inputTokens": PROMPT_TOKENS,
        "outputTokens": COMPLETION_TOKENS,
        "totalTokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }
    items.append({"event": "metadata", "payload": {"usage": usage, "metrics": {"latencyMs": 812}}})
    return encode(items)


# case → (provider name in PROVIDERS, native non-stream body, native stream bytes)
ANSWERS: dict[str, tuple[str, Callable[[], bytes], Callable[[], bytes]]] = {
    "openai": ("openai", openai_body, openai_stream),
    "azure": ("azure", openai_body, openai_stream),
    "anthropic": ("anthropic", anthropic_body, anthropic_stream),
    "gemini": ("gemini", gemini_body, lambda: _gemini_stream(calls_apart=False)),
    "gemini-calls-apart": ("gemini", gemini_body, lambda: _gemini_stream(calls_apart=True)),
    "bedrock": ("bedrock", bedrock_body, bedrock_stream),
}


def _normal(content: Any, calls: list[dict[str, Any]], finish: Any, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": content,
        "calls": [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls],
        "ids": [c["id"] for c in calls],
        "finish_reason": finish,
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
    }


def parse_whole(case: str) -> dict[str, Any]:
    name, body, _ = ANSWERS[case]
    out = PROVIDERS[name][0].parse_response(body())
    assert out["object"] == "chat.completion"
    (choice,) = out["choices"]
    msg = choice["message"]
    assert msg["role"] == "assistant"
    return _normal(msg["content"], msg.get("tool_calls") or [], choice["finish_reason"], out["usage"])


def _splits(data: bytes, mode: str) -> list[bytes]:
    if mode == "whole":
        return [data]
    if mode == "1-byte":
        return [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(mode)  # "random-N": reproducible 1–5-byte pieces
    out, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, 5)
        out.append(data[pos : pos + step])
        pos += step
    return out


def parse_stream(case: str, mode: str) -> dict[str, Any]:
    name, _, native = ANSWERS[case]
    parser = PROVIDERS[name][0].stream_parser()
    chunks: list[dict[str, Any]] = []
    for piece in _splits(native(), mode):
        chunks += parser.feed(piece)
    chunks += parser.close()
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finishes: list[str] = []
    usages: list[dict[str, Any]] = []
    roles: list[str] = []
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        if c.get("usage"):
            usages.append(c["usage"])
        for choice in c.get("choices") or []:
            assert choice["index"] == 0
            delta = choice.get("delta") or {}
            if delta.get("role"):
                roles.append(delta["role"])
            if delta.get("content"):
                content.append(delta["content"])
            for tc in delta.get("tool_calls") or []:
                slot = calls.setdefault(tc["index"], {"id": None, "function": {"name": "", "arguments": ""}})
                if tc.get("id"):
                    assert slot["id"] is None, "a call's id is sent once"
                    slot["id"] = tc["id"]
                fn = tc.get("function") or {}
                slot["function"]["name"] += fn.get("name") or ""
                slot["function"]["arguments"] += fn.get("arguments") or ""
            if choice.get("finish_reason"):
                finishes.append(choice["finish_reason"])
    assert roles == ["assistant"]
    assert len(finishes) == 1, finishes
    assert len(usages) == 1, usages
    assert sorted(calls) == list(range(len(calls)))
    return _normal("".join(content), [calls[i] for i in sorted(calls)], finishes[0], usages[0])


EXPECTED = {
    "content": ANSWER,
    "calls": ANSWER_CALLS,
    "finish_reason": "tool_calls",
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
}


def _check(result: dict[str, Any], case: str) -> None:
    assert {k: v for k, v in result.items() if k != "ids"} == EXPECTED
    ids = result["ids"]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == 2
    name = ANSWERS[case][0]
    if name in IDS or name == "azure":
        assert ids == IDS["openai" if name == "azure" else name]  # the provider's own ids are kept


@pytest.mark.parametrize("case", list(ANSWERS))
def test_non_stream_answer(case: str) -> None:
    _check(parse_whole(case), case)


@pytest.mark.parametrize("mode", ["whole", "1-byte", "random-1", "random-2", "random-3"])
@pytest.mark.parametrize("case", list(ANSWERS))
def test_stream_answer(case: str, mode: str) -> None:
    result = parse_stream(case, mode)
    _check(result, case)
    assert result == parse_whole(case)  # stream and non-stream agree, call ids included


def test_fixture_streams_differ_by_provider() -> None:
    """Guard against a builder silently producing another provider's bytes (or nothing)."""
    blobs = {case: native() for case, (_, _, native) in ANSWERS.items()}
    assert blobs["openai"].endswith(b"data: [DONE]\n\n")
    assert blobs["anthropic"].startswith(b"event: message_start\n") and not blobs["anthropic"].endswith(b"\n")
    assert blobs["gemini"].startswith(b"data: {") and b"\r\n\r\n" in blobs["gemini"]
    assert blobs["bedrock"][:4] != b"data"
    assert len({blobs[c] for c in ("openai", "anthropic", "gemini", "gemini-calls-apart", "bedrock")}) == 5
