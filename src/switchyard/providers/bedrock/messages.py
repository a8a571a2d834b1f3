"""OpenAI chat messages → Converse `system` and `messages` (content blocks, images, documents, tool use and
results, cache points). Pure."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

from ...formats.tool_args import parse_arguments, safe_tool_id
from ..base import UpstreamError

EMPTY_RESULT = "(empty)"  # Converse rejects blank text blocks; an empty tool result says so instead
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
_DOC_NAME_BAD = re.compile(r"[^A-Za-z0-9\s\-\(\)\[\]]+")


def bad_request(message: str, param: str | None = None) -> UpstreamError:
    return UpstreamError(400, "bad_request", message, type="invalid_request_error", param=param)


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


def cache_point(cc: Any) -> dict[str, Any] | None:
    if not cc:
        return None
    point: dict[str, Any] = {"type": "default"}
    if isinstance(cc, dict) and cc.get("ttl") in ("5m", "1h"):
        point["ttl"] = cc["ttl"]
    return {"cachePoint": point}


def _with_cache(blocks: list[dict[str, Any]], msg: dict[str, Any]) -> list[dict[str, Any]]:
    point = cache_point(msg.get("cache_control"))
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
        point = cache_point(part.get("cache_control") if isinstance(part, dict) else None)
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
