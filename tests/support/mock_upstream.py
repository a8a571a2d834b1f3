"""A real HTTP mock upstream on loopback that replays recorded provider traffic.

The scenario is chosen by a marker in the last user message, e.g. "[[tools]]" or "[[error:429]]"; with no
marker the recorded plain-text answer is replayed. Every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from support.threaded_app import ThreadedApp

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


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class MockUpstream:
    host: str = "127.0.0.1"
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    _server: ThreadedApp | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MockUpstream:
        self._server = ThreadedApp(self._handle, name="mock-upstream", max_body=64 * 1024 * 1024)
        self.port = self._server.start(self.host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def last(self, path_contains: str = "") -> Seen:
        for s in reversed(self.seen):
            if path_contains in s.path:
                return s
        raise AssertionError(f"no upstream request with {path_contains!r} in its path")

    # -- handlers --------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw
        self.seen.append(Seen(request.path, {k.lower(): v for k, v in request.headers.items()}, body))
        marker = _scenario(body)
        if marker.startswith("error:"):
            return _recorded(exchange(OPENAI_ERRORS[marker.split(":", 1)[1]]))
        if marker == "500":
            return web.json_response(
                {
                    "error": {
                        "message": "The server had an error while processing your request.",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
                status=500,
            )
        if marker == "slow":
            await asyncio.sleep(1.0)  # long enough for a test to act while requests are in flight
        path = request.path
        if path.endswith(COUNT_PATHS):  # token counting (Anthropic, Bedrock, Vertex AI Claude)
            return count_tokens(path, body)
        stream_req = isinstance(body, dict) and body.get("stream") is True
        if path.endswith(("/chat/completions", "/responses")) and (bad := openai_refusal(path, body)):
            return web.json_response(
                {
                    "error": {
                        "message": bad[0],
                        "type": "invalid_request_error",
                        "param": bad[1],
                        "code": bad[2],
                    }
                },
                status=400,
            )
        if path.endswith("/chat/completions"):
            if stream_req:
                name = {
                    "tools": "openai/chat_completion_stream_parallel_tool_calls.sse",
                    "tool": "openai/chat_completion_stream_tool_call.sse",
                }.get(marker, "openai/chat_completion_stream_usage.sse")
                return await _sse(request, stream(name), midstream_error=marker == "midstream-error")
            name = {
                "tools": "openai/chat_completion_tool_calls.json",
                "length": "openai/chat_completion_length.json",
            }.get(marker, "openai/chat_completion.json")
            return _recorded(exchange(name))
        if path.endswith("/completions"):
            return await _legacy_completion(request, body, stream_req)
        if path.endswith("/responses"):  # OpenAI Responses API
            name = (
                "openai/responses_stream_function_call.sse"
                if marker == "tools"
                else "openai/responses_stream_text.sse"
            )
            if stream_req:
                return await _sse(request, stream(name))
            return web.json_response(_completed_response(stream(name)))
        if path.endswith("/embeddings"):
            return _embeddings(body)
        vertex_model = path.rsplit("/models/", 1)[-1].split(":")[0] if "Predict" in path else None
        if path.endswith(("/messages", ":rawPredict", ":streamRawPredict")) and (
            why := refusal(body, vertex_model)
        ):
            return web.json_response(
                {"type": "error", "error": {"type": "invalid_request_error", "message": why}}, status=400
            )
        if path.endswith(("/messages", ":rawPredict")) and (answer := anthropic_answer(body, vertex_model)):
            return web.json_response(answer)
        if path.endswith(":rawPredict") or path.endswith(":streamRawPredict"):  # Claude on Vertex AI
            if path.endswith(":streamRawPredict"):
                return await _sse(request, stream("anthropic/messages_stream_text.sse"))
            return _recorded(exchange("anthropic/messages.json"))
        if path.endswith("/messages"):  # Anthropic Messages API
            if stream_req:
                name = {
                    "tools": "anthropic/messages_stream_tool_use.sse",
                    "thinking": "anthropic/messages_stream_thinking.sse",
                }.get(marker, "anthropic/messages_stream_text.sse")
                return await _sse(request, stream(name))
            return _recorded(
                exchange(
                    "anthropic/messages_tool_use.json" if marker == "tools" else "anthropic/messages.json"
                )
            )
        if ":batchEmbedContents" in path:  # Gemini embeddings (SYNTHETIC: shaped per Google's API reference)
            vector = orjson.loads(_embeddings({"encoding_format": "float"}).body)["data"][0]["embedding"]
            dims = body["requests"][0].get("outputDimensionality") or len(vector)
            return web.json_response({"embeddings": [{"values": vector[:dims]} for _ in body["requests"]]})
        if ":streamGenerateContent" in path:  # Gemini
            name = (
                "gemini/stream_generate_content_function_call.sse"
                if marker == "tools"
                else "gemini/stream_generate_content.sse"
            )
            return await _sse(request, stream(name))
        if ":generateContent" in path:
            return _recorded(
                exchange(
                    "gemini/generate_content_function_call.json"
                    if marker == "tools"
                    else "gemini/generate_content.json"
                )
            )
        return web.json_response(
            {"error": {"message": f"mock has no route {path}", "type": "invalid_request_error"}}, status=404
        )


def _scenario(body: Any) -> str:
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


def _recorded(ex: dict[str, Any]) -> web.Response:
    resp = ex["response"]
    headers = {k: v for k, v in resp["headers"].items() if k.lower() != "content-length"}
    headers.setdefault("content-type", "application/json")
    # headers only the upstream may see: the gateway must never pass them back to its caller
    headers.update(
        {"set-cookie": "upstream-session=1", "openai-organization": "org-upstream", "x-upstream-only": "1"}
    )
    return web.Response(status=resp["status"], body=orjson.dumps(resp["body"]), headers=headers)


async def _sse(request: web.Request, data: bytes, *, midstream_error: bool = False) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={"content-type": "text/event-stream; charset=utf-8"})
    await resp.prepare(request)
    if midstream_error:
        head = data.split(b"\n\n")[:3]
        await resp.write(b"\n\n".join(head) + b"\n\n")
        await asyncio.sleep(
            0.05
        )  # the gateway has committed the stream (sent its first bytes) before the error comes
        await resp.write(
            b'data: {"error": {"message": "upstream overloaded mid-stream", "type": "server_error"}}\n\n'
        )
        await resp.write_eof()
        return resp
    # deliver in uneven pieces so that the gateway's incremental parsing is exercised
    step = 97
    for i in range(0, len(data), step):
        await resp.write(data[i : i + step])
    await resp.write_eof()
    return resp


async def _legacy_completion(request: web.Request, body: Any, stream_req: bool) -> web.StreamResponse:
    # Synthetic (no recording exists): shaped after the `CreateCompletionResponse` schema of the OpenAI spec.
    model = body.get("model") if isinstance(body, dict) else "unknown"
    if stream_req:
        chunks = [
            {
                "id": "cmpl-mock",
                "object": "text_completion",
                "created": 1732000000,
                "model": model,
                "choices": [{"text": t, "index": 0, "logprobs": None, "finish_reason": None}],
            }
            for t in (" there", " was", " a gateway.")
        ]
        chunks.append(
            {
                "id": "cmpl-mock",
                "object": "text_completion",
                "created": 1732000000,
                "model": model,
                "choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}],
            }
        )
        chunks.append(
            {
                "id": "cmpl-mock",
                "object": "text_completion",
                "created": 1732000000,
                "model": model,
                "choices": [],
                "usage": {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8},
            }
        )
        data = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
        return await _sse(request, data)
    return web.json_response(
        {
            "id": "cmpl-mock",
            "object": "text_completion",
            "created": 1732000000,
            "model": model,
            "choices": [
                {"text": " there was a gateway.", "index": 0, "logprobs": None, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9},
        }
    )


def _completed_response(sse: bytes) -> dict[str, Any]:
    """The non-stream answer of the Responses API is the `response` of the recorded stream's final event."""
    for block in sse.decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: ") and '"response.completed"' in line:
                return orjson.loads(line[6:])["response"]
    raise AssertionError("no response.completed in the recording")


def _embeddings(body: Any) -> web.Response:
    """The recorded base64 embedding; for `encoding_format: float` the same vector decoded (float32 LE)."""
    import base64
    import struct

    recorded = exchange("openai/embeddings_base64.json")["response"]
    payload = orjson.loads(orjson.dumps(recorded["body"]))
    if not (isinstance(body, dict) and body.get("encoding_format") == "base64"):
        for item in payload["data"]:
            raw = base64.b64decode(item["embedding"])
            item["embedding"] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    inputs = body.get("input") if isinstance(body, dict) else None
    if isinstance(inputs, list) and len(inputs) > 1:  # one vector per input, as the API does
        payload["data"] = [{**payload["data"][0], "index": i} for i in range(len(inputs))]
    return web.json_response(payload)
