"""OpenAI chat body → Bedrock Converse / ConverseStream request. Pure: no I/O, no signing (see sign.py).

Every message, tool and tool result is carried over. Content-free parts (empty or whitespace-only
text) are left out because Converse rejects blank text blocks; a turn left with nothing is skipped.
Design notes and the target config keys are in the package docstring.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import orjson

from ...formats.tool_args import safe_tool_id
from ..anthropic.request import (
    ADAPTIVE_EFFORT,
    DEFAULT_MAX_TOKENS,
    JSON_TOOL,
    MIN_THINKING_BUDGET,
    THINKING_BUDGETS,
    parse_arguments,
)
from ..base import Target, UpstreamError, UpstreamRequest

DEFAULT_REGION = "us-east-1"
EMPTY_RESULT = "(empty)"  # Converse rejects blank text blocks; an empty tool result says so instead
# First dotted segment of a cross-region inference-profile id (us.anthropic..., apac.amazon...).
GEO_PREFIXES = frozenset(["us", "eu", "apac", "global", "us-gov", "jp", "au", "ca", "ap"])
IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
# Converse ContentBlock members: a part carrying exactly one of these (and no OpenAI `type`) is native.
_NATIVE_BLOCKS = frozenset(
    [
        "text",
        "image",
        "document",
        "video",
        "audio",
        "toolUse",
        "toolResult",
        "guardContent",
        "cachePoint",
        "reasoningContent",
        "citationsContent",
        "searchResult",
    ]
)
# Converse request fields a caller may already send in Bedrock's own shape; passed through unchanged.
_NATIVE_FIELDS = (
    "guardrailConfig",
    "performanceConfig",
    "promptVariables",
    "requestMetadata",
    "additionalModelResponseFieldPaths",
    "serviceTier",
)
_REGION_IN_HOST = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")
_DOC_NAME_BAD = re.compile(r"[^A-Za-z0-9\s\-\(\)\[\]]+")


def bad_request(message: str, param: str | None = None) -> UpstreamError:
    return UpstreamError(400, "bad_request", message, type="invalid_request_error", param=param)


# --- endpoint ------------------------------------------------------------------------------------


def region(target: Target) -> str:
    """config `region`, else the region in an explicit endpoint host, else `default_region`, else us-east-1."""
    cfg = target.config
    if cfg.get("region"):
        return str(cfg["region"])
    for url in (cfg.get("endpoint"), target.base_url):
        match = _REGION_IN_HOST.search(str(url or ""))
        if match:
            return match.group(1)
    return str(cfg.get("default_region") or DEFAULT_REGION)


def base_url(target: Target) -> str:
    """config `endpoint`, else the target's base_url (`{region}` filled in), else the public endpoint."""
    reg = region(target)
    url = str(
        target.config.get("endpoint") or target.base_url or "https://bedrock-runtime.{region}.amazonaws.com"
    )
    return url.replace("{region}", reg).rstrip("/")


def model_id(target: Target) -> str:
    """The id sent upstream: `cross_region` ("us", "eu", "apac", ...) is prepended when the id has no
    geography prefix of its own. ARNs (inference profiles, provisioned throughput) are used as given."""
    model = target.model
    prefix = target.config.get("cross_region")
    if not prefix or model.startswith("arn:"):
        return model
    first, dot, _ = model.partition(".")
    if dot and first in GEO_PREFIXES:
        return model
    return f"{str(prefix).rstrip('.')}.{model}"


def family(target: Target) -> str:
    """Model vendor ("anthropic", "amazon", "meta", "mistral", ...): config `family`, else from the id."""
    if target.config.get("family"):
        return str(target.config["family"])
    model = target.model.rsplit("/", 1)[-1]  # inference-profile ARNs end with the profile id
    parts = model.split(".")
    if len(parts) > 2 and parts[0] in GEO_PREFIXES:
        parts = parts[1:]
    return parts[0] if len(parts) > 1 else ""


def build_request(body: dict[str, Any], target: Target) -> UpstreamRequest:
    stream = bool(body.get("stream"))
    action = "converse-stream" if stream else "converse"
    url = f"{base_url(target)}/model/{quote(model_id(target), safe='')}/{action}"
    headers = {
        "content-type": "application/json",
        "accept": "application/vnd.amazon.eventstream" if stream else "application/json",
    }
    headers.update(target.headers)
    return UpstreamRequest("POST", url, headers, orjson.dumps(translate(body, target)), stream)


# --- body ------------------------------------------------------------------------------------------


def translate(body: dict[str, Any], target: Target) -> dict[str, Any]:
    n = body.get("n")
    if n is not None and n != 1:
        raise bad_request("n > 1 is not supported by Bedrock Converse; send n separate requests", "n")
    if body.get("functions") or body.get("function_call"):
        raise bad_request("legacy functions/function_call are not supported; use tools", "functions")
    system, messages = convert_messages(body.get("messages") or [])
    out: dict[str, Any] = {"messages": messages}
    if system:
        out["system"] = system
    vendor = family(target)
    inference = _inference_config(body)
    extra: dict[str, Any] = dict(body.get("additionalModelRequestFields") or {})
    _top_k(body, vendor, extra)
    output_config: dict[str, Any] = dict(body.get("outputConfig") or {})
    if vendor == "anthropic":
        _apply_reasoning(body, inference, extra, output_config, target)
    _cap_max_tokens(inference, extra, target)
    tool_config = _tool_config(body, messages)
    tool_config = _apply_response_format(
        body, tool_config, output_config, target, thinking="thinking" in extra
    )
    if inference:
        out["inferenceConfig"] = inference
    if tool_config is not None:
        out["toolConfig"] = tool_config
    if extra:
        out["additionalModelRequestFields"] = extra
    if output_config:
        out["outputConfig"] = output_config
    tier = body.get("service_tier")
    if tier in ("priority", "flex", "default") and "serviceTier" not in body:
        out["serviceTier"] = {"type": tier}
    for key in _NATIVE_FIELDS:
        if body.get(key) is not None:
            out[key] = body[key]
    return out


def _inference_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = body.get("max_completion_tokens")
    max_tokens = body.get("max_tokens") if max_tokens is None else max_tokens
    if max_tokens is not None:
        config["maxTokens"] = max_tokens
    if body.get("temperature") is not None:
        config["temperature"] = body["temperature"]
    if body.get("top_p") is not None:
        config["topP"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    return config


def _top_k(body: dict[str, Any], vendor: str, extra: dict[str, Any]) -> None:
    top_k = body.get("top_k")
    if top_k is None:
        return
    if vendor == "amazon":  # Nova reads it from its own inferenceConfig inside the extra fields
        extra.setdefault("inferenceConfig", {})["topK"] = top_k
    elif vendor != "meta":  # Llama on Bedrock has no top_k and rejects unknown fields
        extra["top_k"] = top_k


def _apply_reasoning(
    body: dict[str, Any],
    inference: dict[str, Any],
    extra: dict[str, Any],
    output_config: dict[str, Any],
    target: Target,
) -> None:
    """Claude extended thinking, as the Anthropic translator does it, in `additionalModelRequestFields`."""
    thinking = extra.get("thinking", body.get("thinking"))
    effort = body.get("reasoning_effort")
    if not isinstance(thinking, dict):
        if effort not in THINKING_BUDGETS:
            return  # absent, "none", or unknown
        if target.config.get("thinking_mode") == "adaptive":
            thinking = {"type": "adaptive"}
            output_config.setdefault("effort", ADAPTIVE_EFFORT[effort])
        else:
            thinking = {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}
    thinking = dict(thinking)
    budget = thinking.get("budget_tokens")
    explicit = inference.get("maxTokens")
    # Claude needs maxTokens > budget_tokens; an explicit limit above the budget is kept (OpenAI's
    # max_completion_tokens counts reasoning too), otherwise the budget goes on top of the answer room.
    if thinking.get("type") == "enabled" and isinstance(budget, int) and (not explicit or explicit <= budget):
        inference["maxTokens"] = (explicit or DEFAULT_MAX_TOKENS) + budget
    if thinking.get("type") in ("enabled", "adaptive"):
        # Claude rejects temperature/top_k with thinking and only allows top_p in [0.95, 1].
        inference.pop("temperature", None)
        extra.pop("top_k", None)
        if "topP" in inference:
            inference["topP"] = max(0.95, min(1.0, inference["topP"]))
    extra["thinking"] = thinking


def _cap_max_tokens(inference: dict[str, Any], extra: dict[str, Any], target: Target) -> None:
    cap = target.config.get("max_output")
    if not cap or not inference.get("maxTokens") or inference["maxTokens"] <= cap:
        return
    inference["maxTokens"] = cap
    thinking = extra.get("thinking") or {}
    budget = thinking.get("budget_tokens")
    if thinking.get("type") != "enabled" or not isinstance(budget, int) or budget < cap:
        return
    if cap - MIN_THINKING_BUDGET < MIN_THINKING_BUDGET:
        del extra["thinking"]  # no room for a thinking budget: answer without thinking
    else:
        extra["thinking"] = {**thinking, "budget_tokens": cap - MIN_THINKING_BUDGET}


# --- messages --------------------------------------------------------------------------------------


def convert_messages(raw: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, strictly alternating user/assistant messages)."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(raw):
        if not isinstance(msg, dict):
            raise bad_request(f"messages[{i}] must be an object", f"messages[{i}]")
        role = msg.get("role")
        where = f"messages[{i}]"
        if role in ("system", "developer"):
            blocks = _content(msg.get("content"), where)
            for block in blocks:
                if not ({"text", "cachePoint", "guardContent"} & block.keys()):
                    raise bad_request("Bedrock system prompts accept text only", f"{where}.content")
            system += _with_cache(blocks, msg)
            continue
        if role == "user":
            new_role, blocks = "user", _with_cache(_content(msg.get("content"), where), msg)
        elif role == "assistant":
            new_role, blocks = "assistant", _with_cache(_assistant_blocks(msg, where), msg)
        elif role == "tool":
            new_role, blocks = "user", _with_cache([_tool_result(msg, where)], msg)
        else:
            raise bad_request(f"unsupported message role {role!r} for Bedrock", f"{where}.role")
        if not blocks or all("cachePoint" in b for b in blocks):
            continue  # nothing to send, and Converse rejects empty turns
        if out and out[-1]["role"] == new_role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": new_role, "content": blocks})
    if not out:
        raise bad_request("Bedrock Converse requires at least one non-system message", "messages")
    for m in out:
        if m["role"] == "user":
            m["content"] = _results_first(m["content"])
    return system, out


def _results_first(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool results lead a user turn (Claude requires it); a cachePoint stays with the block before it."""
    if not any("toolResult" in b for b in blocks) or (
        "toolResult" in blocks[0] and all("toolResult" in b or "cachePoint" in b for b in blocks)
    ):
        return blocks
    results: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    target = rest
    for block in blocks:
        if "cachePoint" not in block:
            target = results if "toolResult" in block else rest
        target.append(block)
    return results + rest


def _cache_point(cc: Any) -> dict[str, Any] | None:
    if not cc:
        return None
    point: dict[str, Any] = {"type": "default"}
    if isinstance(cc, dict) and cc.get("ttl") in ("5m", "1h"):
        point["ttl"] = cc["ttl"]
    return {"cachePoint": point}


def _with_cache(blocks: list[dict[str, Any]], msg: dict[str, Any]) -> list[dict[str, Any]]:
    point = _cache_point(msg.get("cache_control"))
    if point and blocks and "cachePoint" not in blocks[-1]:
        blocks.append(point)
    return blocks


def _content(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    if not isinstance(content, list):
        raise bad_request(f"{where}.content must be a string or a list of parts", f"{where}.content")
    out: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        block = _part(part, f"{where}.content[{j}]")
        if block is None:
            continue
        out.append(block)
        point = _cache_point(part.get("cache_control") if isinstance(part, dict) else None)
        if point:
            out.append(point)
    return out


def _part(part: Any, where: str) -> dict[str, Any] | None:
    if isinstance(part, str):
        return {"text": part} if part.strip() else None
    if not isinstance(part, dict):
        raise bad_request(f"{where} must be a string or an object", where)
    kind = part.get("type")
    if kind in ("text", "input_text", "refusal"):
        text = part.get("text", part.get("refusal")) or ""
        return {"text": text} if isinstance(text, str) and text.strip() else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url:
            raise bad_request(f"{where}.image_url.url is missing", where)
        mime, data = _data_url(url, where, "image")
        return _image(mime, data, where)
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        if not audio.get("data"):
            raise bad_request(f"{where}.input_audio.data is missing", where)
        return {"audio": {"format": audio.get("format") or "wav", "source": {"bytes": audio["data"]}}}
    if kind == "file":
        file = part.get("file") or {}
        data_url = file.get("file_data")
        if not isinstance(data_url, str) or not data_url:
            raise bad_request(
                "Bedrock needs files inline as file_data (a data: URL); file_id is unsupported", where
            )
        if not data_url.startswith("data:"):
            data_url = f"data:application/pdf;base64,{data_url}"
        mime, data = _data_url(data_url, where, "file")
        if mime in IMAGE_FORMATS:
            return _image(mime, data, where)
        fmt = DOCUMENT_FORMATS.get(mime)
        if fmt is None:
            raise bad_request(f"file type {mime!r} is not supported by Bedrock documents", where)
        return {
            "document": {
                "format": fmt,
                "name": _document_name(file.get("filename")),
                "source": {"bytes": data},
            }
        }
    if kind is None and len(part.keys() & _NATIVE_BLOCKS) == 1:
        return dict(part)  # already a Converse content block
    raise bad_request(f"content part type {kind!r} is not supported by Bedrock", where)


def _data_url(url: str, where: str, what: str) -> tuple[str, str]:
    """data: URL → (mime type, base64 data). Converse JSON carries blob bytes as base64."""
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        if not sep:
            raise bad_request(f"malformed data: URL in {where}", where)
        mime = header.split(";")[0].strip().lower()
        if ";base64" not in header:
            data = base64.b64encode(unquote_to_bytes(data)).decode()
        return mime, data
    if url.startswith(("http://", "https://")):
        raise bad_request(
            f"Bedrock does not fetch {what} URLs; send the {what} inline as a base64 data: URL", where
        )
    raise bad_request(f"{what} URLs must be base64 data: URLs for Bedrock", where)


def _image(mime: str, data: str, where: str) -> dict[str, Any]:
    fmt = IMAGE_FORMATS.get(mime)
    if fmt is None:
        raise bad_request(f"image type {mime!r} is not supported by Bedrock (png, jpeg, gif, webp)", where)
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _document_name(filename: Any) -> str:
    """Converse document names allow letters, digits, single spaces, hyphens, parentheses, brackets."""
    stem = str(filename or "").rsplit(".", 1)[0] if "." in str(filename or "")[1:] else str(filename or "")
    name = " ".join(_DOC_NAME_BAD.sub("-", stem).split())
    return name[:200] or "document"


def tool_use_id(raw: Any) -> str:
    """Converse tool ids match [a-zA-Z0-9_-]{1,64}; other characters become `_` (on both sides of a call)."""
    return safe_tool_id(raw)


def _assistant_blocks(msg: dict[str, Any], where: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for tb in msg.get("thinking_blocks") or []:
        if not isinstance(tb, dict):
            continue
        if tb.get("type") == "redacted_thinking":
            blocks.append({"reasoningContent": {"redactedContent": tb.get("data", "")}})
        elif tb.get("signature"):  # Claude rejects unsigned reasoning; reasoning_content alone is not sent
            text = {"text": tb.get("thinking", ""), "signature": tb["signature"]}
            blocks.append({"reasoningContent": {"reasoningText": text}})
    blocks += _content(msg.get("content"), where)
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        blocks.append(
            {
                "toolUse": {
                    "toolUseId": tool_use_id(call.get("id")),
                    "name": fn.get("name") or "",
                    "input": parse_arguments(fn.get("arguments")),
                }
            }
        )
    return blocks


def _tool_result(msg: dict[str, Any], where: str) -> dict[str, Any]:
    content = msg.get("content")
    blocks: list[dict[str, Any]]
    if isinstance(content, list):
        blocks = [b for b in _content(content, where) if "cachePoint" not in b]
        if len(blocks) == 1 and "text" in blocks[0]:
            blocks = _result_blocks(blocks[0]["text"])
    elif isinstance(content, dict):
        blocks = [{"json": content}]
    else:
        blocks = _result_blocks(
            "" if content is None else content if isinstance(content, str) else str(content)
        )
    if not blocks:
        blocks = [{"text": EMPTY_RESULT}]
    return {"toolResult": {"toolUseId": tool_use_id(msg.get("tool_call_id")), "content": blocks}}


def _result_blocks(text: str) -> list[dict[str, Any]]:
    if not text.strip():
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return [{"text": text}]
    return [{"json": value}] if isinstance(value, dict) else [{"text": text}]


# --- tools and response format -----------------------------------------------------------------------


def _tool_config(body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    tools: list[dict[str, Any]] = []
    for j, tool in enumerate(body.get("tools") or []):
        tools += _tool(tool, j)
    choice = body.get("tool_choice")
    history = _history_tools(messages)
    if not tools and history:
        # Converse refuses toolUse/toolResult blocks without a toolConfig: declare the tools the history
        # used, with an open schema, so the conversation is accepted.
        tools = [{"toolSpec": {"name": n, "inputSchema": {"json": {"type": "object"}}}} for n in history]
    if not tools:
        if choice not in (None, "auto", "none"):
            raise bad_request("tool_choice needs tools", "tool_choice")
        return None
    if choice == "none" and not history:
        return None  # Converse has no "none" choice: withholding the tools is the way to say it
    config: dict[str, Any] = {"tools": tools}
    converted = _tool_choice(choice)
    if converted is not None:
        config["toolChoice"] = converted
    return config


def _history_tools(messages: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    has_blocks = False
    for m in messages:
        for block in m["content"]:
            if "toolUse" in block:
                has_blocks = True
                names[block["toolUse"].get("name") or "tool"] = None
            elif "toolResult" in block:
                has_blocks = True
    if has_blocks and not names:
        names["tool"] = None
    return list(names)


def _tool(tool: Any, j: int) -> list[dict[str, Any]]:
    if not isinstance(tool, dict):
        raise bad_request(f"tools[{j}] must be an object", f"tools[{j}]")
    if tool.get("type") != "function":
        if tool.keys() & {"toolSpec", "systemTool", "cachePoint"}:
            return [dict(tool)]  # already a Converse tool
        raise bad_request(f"tool type {tool.get('type')!r} is not supported by Bedrock", f"tools[{j}]")
    fn = tool.get("function") or {}
    if not fn.get("name"):
        raise bad_request("tool function name is required", f"tools[{j}].function.name")
    spec: dict[str, Any] = {"name": fn["name"]}
    if fn.get("description"):
        spec["description"] = fn["description"]
    spec["inputSchema"] = {"json": fn.get("parameters") or {"type": "object", "properties": {}}}
    out = [{"toolSpec": spec}]
    point = _cache_point(tool.get("cache_control") or fn.get("cache_control"))
    if point:
        out.append(point)
    return out


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None or choice in ("auto", "none"):
        return {"auto": {}} if choice == "auto" else None
    if choice == "required":
        return {"any": {}}
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            name = (choice.get("function") or {}).get("name")
            if name:
                return {"tool": {"name": name}}
        if choice.keys() & {"auto", "any", "tool"}:
            return dict(choice)  # already a Converse toolChoice
    raise bad_request(f"unsupported tool_choice {choice!r} for Bedrock", "tool_choice")


def _apply_response_format(
    body: dict[str, Any],
    tool_config: dict[str, Any] | None,
    output_config: dict[str, Any],
    target: Target,
    *,
    thinking: bool,
) -> dict[str, Any] | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return tool_config  # "text" is the default; "json_object" has no Converse equivalent and is dropped
    spec = fmt.get("json_schema") or {}
    schema = spec.get("schema") or {"type": "object"}
    if target.config.get("json_schema_mode") == "native":
        definition: dict[str, Any] = {
            "schema": orjson.dumps(schema).decode(),
            "name": spec.get("name") or "response",
        }
        if spec.get("description"):
            definition["description"] = spec["description"]
        output_config["textFormat"] = {"type": "json_schema", "structure": {"jsonSchema": definition}}
        return tool_config
    # Default: a reserved tool whose input is the answer; the response translators turn it back into text.
    desc = spec.get("description") or f"Respond with the final answer as {spec.get('name') or 'JSON'}."
    tool = {"toolSpec": {"name": JSON_TOOL, "description": desc, "inputSchema": {"json": schema}}}
    if tool_config is None:
        # The only tool: force it, except under Claude thinking, which refuses forced tool use.
        return {"tools": [tool], "toolChoice": {"auto": {}} if thinking else {"tool": {"name": JSON_TOOL}}}
    tool_config["tools"].append(tool)
    return tool_config
