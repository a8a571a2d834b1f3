"""Logged bodies → a chat to show: turns of text, images, tool calls and tool results.

Pure and forgiving: it reads OpenAI chat, legacy completions, embeddings, Anthropic messages and Responses
bodies (request and response), and anything it does not recognise comes back as one JSON part so nothing logged is
ever hidden. Images are shown inline only when they are `data:` URLs; remote image URLs are listed as text (the
dashboard never makes the viewer's browser fetch a URL someone put in a prompt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Part:
    kind: str  # text | image | image_link | tool_call | tool_result | json
    text: str = ""
    name: str = ""  # tool name, or tool-call id for results


@dataclass(slots=True)
class Turn:
    role: str
    parts: list[Part] = field(default_factory=list)


def load(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _json(v: Any) -> str:
    if isinstance(v, str):
        parsed = load(v)
        if isinstance(parsed, (dict, list)):
            v = parsed
        else:
            return v
    try:
        return orjson.dumps(v, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return str(v)


def _image(url: Any) -> Part:
    url = url if isinstance(url, str) else ""
    if url.startswith("data:image/") and len(url) < 2_000_000:
        return Part("image", url)
    return Part("image_link", url[:2000] or "(image)")


def _parts(content: Any) -> list[Part]:
    """A message's content in any of the formats: a string, or a list of typed blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [Part("text", content)]
    if not isinstance(content, list):
        return [Part("json", _json(content))]
    out: list[Part] = []
    for block in content:
        if isinstance(block, str):
            out.append(Part("text", block))
            continue
        if not isinstance(block, dict):
            out.append(Part("json", _json(block)))
            continue
        t = block.get("type")
        if t in ("text", "input_text", "output_text") and isinstance(block.get("text"), str):
            out.append(Part("text", block["text"]))
        elif t == "image_url":
            iu = block.get("image_url")
            out.append(_image(iu.get("url") if isinstance(iu, dict) else iu))
        elif t == "input_image":
            out.append(_image(block.get("image_url")))
        elif t == "image" and isinstance(block.get("source"), dict):
            src = block["source"]
            if src.get("type") == "base64":
                out.append(_image(f"data:{src.get('media_type', 'image/png')};base64,{src.get('data', '')}"))
            else:
                out.append(_image(src.get("url")))
        elif t == "tool_use":
            out.append(Part("tool_call", _json(block.get("input")), str(block.get("name", ""))))
        elif t == "tool_result":
            inner = block.get("content")
            text = "\n".join(p.text for p in _parts(inner)) if isinstance(inner, list) else _json(inner)
            out.append(Part("tool_result", text, str(block.get("tool_use_id", ""))))
        elif t in ("thinking", "reasoning"):
            out.append(Part("text", str(block.get("thinking") or block.get("text") or "")))
        else:
            out.append(Part("json", _json(block)))
    return out


def _tool_calls(calls: Any) -> list[Part]:
    out = []
    for c in calls if isinstance(calls, list) else []:
        fn = c.get("function") if isinstance(c, dict) else None
        if isinstance(fn, dict):
            out.append(Part("tool_call", _json(fn.get("arguments")), str(fn.get("name", ""))))
        else:
            out.append(Part("json", _json(c)))
    return out


def _message(m: Any) -> Turn:
    if not isinstance(m, dict):
        return Turn("message", [Part("json", _json(m))])
    role = str(m.get("role") or m.get("type") or "message")
    if m.get("type") == "function_call":  # Responses items
        return Turn("assistant", [Part("tool_call", _json(m.get("arguments")), str(m.get("name", "")))])
    if m.get("type") == "function_call_output":
        return Turn("tool", [Part("tool_result", _json(m.get("output")), str(m.get("call_id", "")))])
    parts = _parts(m.get("content"))
    parts += _tool_calls(m.get("tool_calls"))
    if role == "tool":
        parts = [
            Part("tool_result", p.text, str(m.get("tool_call_id", ""))) if p.kind == "text" else p
            for p in parts
        ]
    return Turn(role, parts)


def request_turns(body: Any) -> list[Turn]:
    if body is None:
        return []
    if not isinstance(body, dict):
        return [Turn("request", [Part("text" if isinstance(body, str) else "json", _json(body))])]
    turns: list[Turn] = []
    system = body.get("system") if "system" in body else body.get("instructions")
    if system:
        turns.append(Turn("system", _parts(system)))
    if isinstance(body.get("messages"), list):
        turns += [_message(m) for m in body["messages"]]
    elif "input" in body:
        inp = body["input"]
        if isinstance(inp, str):
            turns.append(Turn("user", [Part("text", inp)]))
        elif isinstance(inp, list) and all(isinstance(i, dict) for i in inp):
            turns += [_message(i) for i in inp]
        else:
            turns.append(Turn("input", [Part("json", _json(inp))]))
    elif "prompt" in body:
        p = body["prompt"]
        turns.append(Turn("user", [Part("text", p) if isinstance(p, str) else Part("json", _json(p))]))
    else:
        turns.append(Turn("request", [Part("json", _json(body))]))
    return turns


def response_turns(body: Any) -> list[Turn]:
    if body is None:
        return []
    if not isinstance(body, dict):
        return [Turn("response", [Part("text" if isinstance(body, str) else "json", _json(body))])]
    if isinstance(body.get("choices"), list):
        out = []
        for c in body["choices"]:
            if isinstance(c, dict) and isinstance(c.get("message"), dict):
                out.append(_message(c["message"]))
            elif isinstance(c, dict) and isinstance(c.get("text"), str):
                out.append(Turn("assistant", [Part("text", c["text"])]))
        return out or [Turn("response", [Part("json", _json(body))])]
    if body.get("type") == "message" and isinstance(body.get("content"), list):
        return [Turn("assistant", _parts(body["content"]))]
    if isinstance(body.get("output"), list):
        return [_message(i) for i in body["output"]] or [Turn("response", [Part("json", _json(body))])]
    if "error" in body:
        return [Turn("error", [Part("json", _json(body["error"]))])]
    if isinstance(body.get("data"), list):  # embeddings: not worth drawing the vectors
        return [Turn("response", [Part("text", f"{len(body['data'])} embedding(s)")])]
    return [Turn("response", [Part("json", _json(body))])]
