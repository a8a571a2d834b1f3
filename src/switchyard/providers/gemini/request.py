"""OpenAI chat body → Gemini `generateContent` / `streamGenerateContent` request. Pure.

Every message, tool and tool result is carried over: system/developer text becomes
`systemInstruction`, tool results become `functionResponse` parts named after the assistant tool call
they answer, and adjacent results share one user turn (Gemini wants all answers to a parallel call
together). Thought signatures come back from `parse_response` as
`tool_calls[].extra_content.google.thought_signature` and are returned to Gemini here; a history
without them (another model's, or a client that strips unknown fields) gets Google's documented
placeholder so Gemini 3 does not refuse it.
"""

from __future__ import annotations

import base64
import mimetypes
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

import orjson

from switchyard.providers.base import Target, UpstreamRequest
from switchyard.providers.gemini.schema import to_gemini_schema

# OpenAI reasoning_effort → thinking token budget (Google's own OpenAI layer uses 1K/8K/24K).
THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576}
SKIP_SIGNATURE = "skip_thought_signature_validator"  # Google's documented placeholder
_TOOL_MODES = {"none": "NONE", "auto": "AUTO", "required": "ANY"}
_NATIVE_PARTS = ("text", "inlineData", "fileData", "functionCall", "functionResponse")
_MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".pdf": "application/pdf",
    ".mp3": "audio/mp3",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
}


def build_request(body: dict[str, Any], target: Target) -> UpstreamRequest:
    stream = bool(body.get("stream"))
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return gemini_request(target, method, translate(body), stream)


def gemini_request(
    target: Target, method: str, payload: dict[str, Any], stream: bool = False
) -> UpstreamRequest:
    """POST `{base}/models/{model}:{method}` with the key in a header (never in the URL)."""
    model = quote(target.model.removeprefix("models/"), safe="-._~")
    headers = {"content-type": "application/json"}
    if stream:
        headers["accept"] = "text/event-stream"
    if target.api_key and target.auth == "bearer":
        headers["authorization"] = f"Bearer {target.api_key}"  # an OAuth access token
    elif target.api_key and target.auth != "none":
        headers["x-goog-api-key"] = target.api_key  # never in the URL, so it cannot leak into logs
    headers.update(target.headers)
    url = f"{target.base_url.rstrip('/')}/models/{model}:{method}"
    return UpstreamRequest("POST", url, headers, orjson.dumps(payload), stream)


def translate(body: dict[str, Any]) -> dict[str, Any]:
    system, contents = _messages(body.get("messages") or [])
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    config = _generation_config(body)
    if config:
        out["generationConfig"] = config
    tools = _tools(body.get("tools") or [])
    if tools:
        out["tools"] = tools
    tool_config = _tool_config(body.get("tool_choice"))
    if tool_config:
        out["toolConfig"] = tool_config
    for src, dst in (("safety_settings", "safetySettings"), ("cached_content", "cachedContent")):
        value = body.get(src, body.get(dst))
        if value is not None:
            out[dst] = value
    return out


def _messages(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}  # tool_call id → function name; later calls win (ids may repeat)
    for msg in messages:
        role = msg.get("role")
        if role in ("system", "developer"):
            system += _user_parts(msg.get("content"))
        elif role == "assistant":
            _append(contents, "model", _assistant_parts(msg, call_names))
        elif role in ("tool", "function"):
            _append(contents, "user", [_function_response(msg, call_names)])
        else:
            _append(contents, "user", _user_parts(msg.get("content")))
    return system, contents


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    """Add a turn, merging into the previous one when it has the same role and the same kind
    (tool results join tool results; plain turns join plain turns)."""
    parts = parts or [{"text": ""}]
    if contents and contents[-1]["role"] == role and _is_results(contents[-1]["parts"]) == _is_results(parts):
        contents[-1]["parts"] += parts
    else:
        contents.append({"role": role, "parts": parts})


def _is_results(parts: list[dict[str, Any]]) -> bool:
    return any("functionResponse" in p for p in parts)


def _user_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        return [] if content is None else [{"text": orjson.dumps(content).decode()}]
    parts: list[dict[str, Any]] = []
    for item in content:
        if isinstance(item, str):
            parts.append({"text": item})
        elif isinstance(item, dict):
            parts.append(_content_part(item))
    return parts


def _content_part(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("type")
    if kind in ("text", "input_text", "refusal") or (kind is None and isinstance(item.get("text"), str)):
        return {"text": item.get("text", item.get("refusal", ""))}
    if kind == "image_url":
        image = item.get("image_url")
        url = image.get("url", "") if isinstance(image, dict) else str(image or "")
        return _media_part(url, "image/jpeg")
    if kind == "input_audio":
        audio = item.get("input_audio") or {}
        return {
            "inlineData": {"mimeType": f"audio/{audio.get('format', 'wav')}", "data": audio.get("data", "")}
        }
    if kind == "file":
        file = item.get("file") or {}
        mime = _guess_mime(file.get("filename") or "", "application/pdf")
        if file.get("file_data"):
            data = file["file_data"]
            return (
                _media_part(data, mime)
                if data.startswith("data:")
                else {"inlineData": {"mimeType": mime, "data": data}}
            )
        return {"fileData": {"mimeType": mime, "fileUri": file.get("file_id", "")}}
    if kind is None and any(key in item for key in _NATIVE_PARTS):
        return item  # already a Gemini part
    return {"text": orjson.dumps(item).decode()}  # unknown part: keep its content visible


def _media_part(url: str, default_mime: str) -> dict[str, Any]:
    if url.startswith("data:"):
        header, _, data = url[5:].partition(",")
        mime = header.split(";")[0] or default_mime
        if ";base64" not in header:
            data = base64.b64encode(unquote_to_bytes(data)).decode()
        return {"inlineData": {"mimeType": mime, "data": data}}
    return {"fileData": {"mimeType": _guess_mime(urlsplit(url).path, default_mime), "fileUri": url}}


def _guess_mime(path: str, default: str) -> str:
    dot = path.rfind(".")
    ext = path[dot:].lower() if dot >= 0 else ""
    return _MIME.get(ext) or mimetypes.guess_type(path)[0] or default


def _assistant_parts(msg: dict[str, Any], call_names: dict[str, str]) -> list[dict[str, Any]]:
    parts = _user_parts(msg.get("content"))
    calls = list(msg.get("tool_calls") or [])
    if isinstance(msg.get("function_call"), dict):  # the deprecated `functions` API
        calls.append({"function": msg["function_call"]})
    signed = False
    for call in calls:
        fn = call.get("function") or {}
        name = fn.get("name") or ""
        if call.get("id"):
            call_names[call["id"]] = name
        part: dict[str, Any] = {"functionCall": {"name": name, "args": _args(fn.get("arguments"))}}
        google = (call.get("extra_content") or {}).get("google") or {}
        if google.get("thought_signature"):
            part["thoughtSignature"] = google["thought_signature"]
            signed = True
        parts.append(part)
    if calls and not signed:
        next(p for p in parts if "functionCall" in p)["thoughtSignature"] = SKIP_SIGNATURE
    return parts


def _args(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    try:
        value = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        return {"arguments": raw}
    return value if isinstance(value, dict) else {"arguments": value}


def _function_response(msg: dict[str, Any], call_names: dict[str, str]) -> dict[str, Any]:
    name = call_names.get(msg.get("tool_call_id") or "") or msg.get("name") or "unknown_function"
    content = msg.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return {"functionResponse": {"name": name, "response": _result(content)}}


def _result(content: Any) -> dict[str, Any]:
    if not isinstance(content, str | bytes):
        return content if isinstance(content, dict) else {"result": content}
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {"result": content if isinstance(content, str) else content.decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"result": value}


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for src, dst in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("n", "candidateCount"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
        ("seed", "seed"),
    ):
        if body.get(src) is not None:
            config[dst] = body[src]
    max_tokens = body.get("max_completion_tokens")
    max_tokens = body.get("max_tokens") if max_tokens is None else max_tokens
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = body.get("response_format")
    fmt = fmt if isinstance(fmt, dict) else {}
    if fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if fmt["type"] == "json_schema" and isinstance(schema, dict):
            config["responseSchema"] = to_gemini_schema(schema, ordering=True)
    effort = body.get("reasoning_effort")
    if effort in THINKING_BUDGETS:
        budget = THINKING_BUDGETS[effort]
        config["thinkingConfig"] = (
            {"thinkingBudget": budget, "includeThoughts": True} if budget else {"thinkingBudget": 0}
        )
    return config


def _tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    native: list[dict[str, Any]] = []
    for tool in tools:
        kind = tool.get("type")
        if kind == "function":
            fn = tool.get("function") or {}
            decl: dict[str, Any] = {"name": fn.get("name", "")}
            if fn.get("description"):
                decl["description"] = fn["description"]
            if isinstance(fn.get("parameters"), dict):
                decl["parameters"] = to_gemini_schema(fn["parameters"])
            declarations.append(decl)
        elif kind in ("web_search", "web_search_preview"):
            native.append({"googleSearch": {}})
        else:
            native.append(tool)  # a native Gemini tool ({"codeExecution": {}}, ...); Gemini judges the rest
    return ([{"functionDeclarations": declarations}] if declarations else []) + native


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, str) and choice in _TOOL_MODES:
        return {"functionCallingConfig": {"mode": _TOOL_MODES[choice]}}
    if not isinstance(choice, dict):
        return None
    if choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools") or {}
        names = [(t.get("function") or {}).get("name") for t in allowed.get("tools") or []]
        if allowed.get("mode") != "required":
            return {"functionCallingConfig": {"mode": "AUTO"}}  # Gemini restricts names only under ANY
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [n for n in names if n]}}
    name = (choice.get("function") or {}).get("name")
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}} if name else None
