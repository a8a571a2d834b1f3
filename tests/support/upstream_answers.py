"""What the mock provider answers, as plain values: recorded provider traffic chosen by path and scenario marker.

Served over loopback by `mock_upstream.MockUpstream` (real processes) and in process by `fake_transport.py`.
The scenario is a marker in the last user message, e.g. "[[tools]]" or "[[error:429]]"; with no marker the
recorded plain-text answer is replayed. Requests the real providers refuse are refused (`openai_rules.py`,
`anthropic_rules.py`, `count_tokens_upstream.py`): a permissive mock hides exactly the bugs users hit.
"""

from __future__ import annotations

import base64
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import orjson

from .anthropic_rules import refusal
from .count_tokens_upstream import COUNT_PATHS, count_tokens
from .openai_rules import refusal as openai_refusal
from .structured_answers import anthropic_answer
from .wire import exchange, stream

_MARK = re.compile(r"\[\[([a-z0-9:_-]+)\]\]")

OPENAI_ERRORS = {
    "401": "openai/error_401_chat_invalid_api_key.json",
    "400": "openai/error_400_unsupported_value.json",
    "404": "openai/error_404_model_not_found.json",
    "429": "openrouter/error_429_upstream_rate_limited.json",
}
# headers only the upstream may see: the gateway must never pass them back to its caller
UPSTREAM_ONLY = {
    "set-cookie": "upstream-session=1",
    "openai-organization": "org-upstream",
    "x-upstream-only": "1",
}
SSE = {"content-type": "text/event-stream; charset=utf-8"}
STEP = 97  # streams are delivered in uneven pieces so that the gateway's incremental parsing is exercised


@dataclass
class Reply:
    """One upstream answer. `chunks`: a streamed body, its items bytes to send or floats (seconds to pause);
    `delay`: seconds before the response headers; `fail`: "connection" or "timeout" — the exchange breaks that
    way before the response (no chunks) or after the chunks (mid-stream)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: list[bytes | float] | None = None
    delay: float = 0.0
    fail: str | None = None


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"content-type": "application/json", **(headers or {})}, orjson.dumps(payload))


def sse_reply(data: bytes, step: int = STEP) -> Reply:
    return Reply(200, dict(SSE), chunks=[data[i : i + step] for i in range(0, len(data), step)])


def recorded(name: str) -> Reply:
    """A recorded exchange's response (status, headers, body) plus the upstream-only headers."""
    resp = exchange(name)["response"]
    headers = {k.lower(): v for k, v in resp["headers"].items() if k.lower() != "content-length"}
    headers.setdefault("content-type", "application/json")
    headers.update(UPSTREAM_ONLY)
    return Reply(resp["status"], headers, orjson.dumps(resp["body"]))


def openai_error(status: int, message: str, type: str, param: str | None = None, code: Any = None) -> Reply:
    return json_reply({"error": {"message": message, "type": type, "param": param, "code": code}}, status)


def scenario(body: Any) -> str:
    """The marker of the request's last user turn (`messages`, `prompt`, Responses `input`, Gemini `contents`)."""
    if not isinstance(body, dict):
        return ""
    text = ""
    msgs = body.get("messages")
    if isinstance(msgs, list) and msgs:
        content = msgs[-1].get("content") if isinstance(msgs[-1], dict) else None
        text = content if isinstance(content, str) else orjson.dumps(content).decode()
    elif isinstance(body.get("prompt"), str):
        text = body["prompt"]
    elif "input" in body:  # Responses API
        text = body["input"] if isinstance(body["input"], str) else orjson.dumps(body["input"]).decode()
    elif isinstance(body.get("contents"), list) and body["contents"]:  # Gemini
        text = orjson.dumps(body["contents"][-1]).decode()
    m = _MARK.search(text)
    return m.group(1) if m else ""


def answer(path: str, body: Any) -> Reply:
    """The mock provider's answer to a POST of `body` (parsed JSON, or the raw bytes) to `path`."""
    marker = scenario(body)
    if marker.startswith("error:"):
        return recorded(OPENAI_ERRORS[marker.split(":", 1)[1]])
    if marker == "500":
        return openai_error(500, "The server had an error while processing your request.", "server_error")
    reply = _route(path, body, marker)
    if marker == "slow":
        reply.delay = 1.0  # long enough for a test to act while requests are in flight
    return reply


def _route(path: str, body: Any, marker: str) -> Reply:
    if path.endswith(COUNT_PATHS):  # token counting (Anthropic, Bedrock, Vertex AI Claude)
        status, payload, headers = count_tokens(path, body)
        return json_reply(payload, status, headers)
    stream_req = isinstance(body, dict) and body.get("stream") is True
    if path.endswith(("/chat/completions", "/responses")) and (bad := openai_refusal(path, body)):
        return openai_error(400, bad[0], "invalid_request_error", bad[1], bad[2])
    if path.endswith("/chat/completions"):
        if stream_req:
            name = {
                "tools": "openai/chat_completion_stream_parallel_tool_calls.sse",
                "tool": "openai/chat_completion_stream_tool_call.sse",
            }.get(marker, "openai/chat_completion_stream_usage.sse")
            return _midstream_error(stream(name)) if marker == "midstream-error" else sse_reply(stream(name))
        name = {
            "tools": "openai/chat_completion_tool_calls.json",
            "length": "openai/chat_completion_length.json",
        }.get(marker, "openai/chat_completion.json")
        return recorded(name)
    if path.endswith("/completions"):
        return _legacy_completion(body, stream_req)
    if path.endswith("/responses"):  # OpenAI Responses API
        name = (
            "openai/responses_stream_function_call.sse"
            if marker == "tools"
            else "openai/responses_stream_text.sse"
        )
        return sse_reply(stream(name)) if stream_req else json_reply(completed_response(stream(name)))
    if path.endswith("/embeddings"):
        return json_reply(embeddings(body))
    vertex_model = path.rsplit("/models/", 1)[-1].split(":")[0] if "Predict" in path else None
    if path.endswith(("/messages", ":rawPredict", ":streamRawPredict")) and (
        why := refusal(body, vertex_model)
    ):
        return json_reply({"type": "error", "error": {"type": "invalid_request_error", "message": why}}, 400)
    if path.endswith(("/messages", ":rawPredict")) and (structured := anthropic_answer(body, vertex_model)):
        return json_reply(structured)
    if path.endswith(":streamRawPredict"):  # Claude on Vertex AI
        return sse_reply(stream("anthropic/messages_stream_text.sse"))
    if path.endswith(":rawPredict"):
        return recorded("anthropic/messages.json")
    if path.endswith("/messages"):  # Anthropic Messages API
        if stream_req:
            name = {
                "tools": "anthropic/messages_stream_tool_use.sse",
                "thinking": "anthropic/messages_stream_thinking.sse",
            }.get(marker, "anthropic/messages_stream_text.sse")
            return sse_reply(stream(name))
        return recorded(
            "anthropic/messages_tool_use.json" if marker == "tools" else "anthropic/messages.json"
        )
    if ":batchEmbedContents" in path:  # Gemini embeddings (SYNTHETIC: shaped per Google's API reference)
        vector = embeddings({"encoding_format": "float"})["data"][0]["embedding"]
        dims = body["requests"][0].get("outputDimensionality") or len(vector)
        return json_reply({"embeddings": [{"values": vector[:dims]} for _ in body["requests"]]})
    if ":streamGenerateContent" in path:  # Gemini
        name = (
            "gemini/stream_generate_content_function_call.sse"
            if marker == "tools"
            else "gemini/stream_generate_content.sse"
        )
        return sse_reply(stream(name))
    if ":generateContent" in path:
        return recorded(
            "gemini/generate_content_function_call.json"
            if marker == "tools"
            else "gemini/generate_content.json"
        )
    return openai_error(404, f"mock has no route {path}", "invalid_request_error")


def _midstream_error(data: bytes) -> Reply:
    """Three events, a pause (the gateway has committed the stream by then), then an error event and the end."""
    head = b"\n\n".join(data.split(b"\n\n")[:3]) + b"\n\n"
    error = b'data: {"error": {"message": "upstream overloaded mid-stream", "type": "server_error"}}\n\n'
    return Reply(200, dict(SSE), chunks=[head, 0.05, error])


def _legacy_completion(body: Any, stream_req: bool) -> Reply:
    # Synthetic (no recording exists): shaped after the `CreateCompletionResponse` schema of the OpenAI spec.
    model = body.get("model") if isinstance(body, dict) else "unknown"
    base = {"id": "cmpl-mock", "object": "text_completion", "created": 1732000000, "model": model}
    if stream_req:
        chunks = [
            {**base, "choices": [{"text": t, "index": 0, "logprobs": None, "finish_reason": None}]}
            for t in (" there", " was", " a gateway.")
        ]
        chunks.append(
            {**base, "choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}]}
        )
        chunks.append(
            {**base, "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8}}
        )
        return sse_reply(
            b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
        )
    return json_reply(
        {
            **base,
            "choices": [
                {"text": " there was a gateway.", "index": 0, "logprobs": None, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9},
        }
    )


def completed_response(sse: bytes) -> dict[str, Any]:
    """The non-stream answer of the Responses API is the `response` of the recorded stream's final event."""
    for block in sse.decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: ") and '"response.completed"' in line:
                return orjson.loads(line[6:])["response"]
    raise AssertionError("no response.completed in the recording")


def embeddings(body: Any) -> dict[str, Any]:
    """The recorded base64 embedding; for `encoding_format: float` the same vector decoded (float32 LE)."""
    payload = orjson.loads(orjson.dumps(exchange("openai/embeddings_base64.json")["response"]["body"]))
    if not (isinstance(body, dict) and body.get("encoding_format") == "base64"):
        for item in payload["data"]:
            raw = base64.b64decode(item["embedding"])
            item["embedding"] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    inputs = body.get("input") if isinstance(body, dict) else None
    if isinstance(inputs, list) and len(inputs) > 1:  # one vector per input, as the API does
        payload["data"] = [{**payload["data"][0], "index": i} for i in range(len(inputs))]
    return payload
