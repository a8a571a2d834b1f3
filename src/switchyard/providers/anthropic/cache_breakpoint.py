"""Automatic prompt caching for Claude: one `cache_control` breakpoint when the caller set none.

Claude caches a prompt prefix only up to a block marked `cache_control` (OpenAI and Gemini cache prefixes on their
own). Helicone's mapper marks the last content block of the last message when a request carries no
`cache_control` anywhere; this does the same, as an operator's choice per provider (off by default: a cache write
costs 1.25× the input price, and pays only when the prefix is read again within the cache lifetime):

    providers:
      anthropic: {config: {auto_cache_control: true}}     # also bedrock / vertex: their Claude models only

Why the last message: Anthropic documents it as the pattern for conversations — each turn writes the whole prompt,
and the next turn reads the longest cached prefix found by looking back from its own breakpoint (up to about 20
blocks), so a conversation is cached incrementally with a single breakpoint. Anthropic's rules respected:
- never more than one breakpoint added, and only when the caller set none (the limit is 4 per request);
- never for a Claude model Bedrock cannot cache (Claude 2 and Instant, Claude 3, Claude 3.5 Sonnet v1): Bedrock
  refuses the request outright;
- never on a block that cannot carry one (thinking, redacted thinking, blank text): the marker goes to the last
  block that can, in the last message that has one, else the system prompt's last block, else the last tool;
- a prefix below the model's minimum (1,024 tokens for most Claude models, 2,048 or 4,096 for some) is simply not
  cached: Anthropic answers normally, so no length check is needed here.

Two shapes: an OpenAI chat body (kind `chat`, before translation: the translators carry a message's
`cache_control` to its last Anthropic block or to a Bedrock `cachePoint`) and an Anthropic Messages body (kind
`messages`, passed natively to Anthropic, Bedrock InvokeModel or Vertex rawPredict). The caller's body is never
mutated: what changes is copied.
"""

from __future__ import annotations

import re
from typing import Any

from ..base import Target

BREAKPOINT = {"type": "ephemeral"}
CONFIG_KEY = "auto_cache_control"
_CLAUDE_FORMATS = frozenset({"anthropic", "bedrock", "vertex"})
_NO_MARKER = frozenset({"thinking", "redacted_thinking"})
# Claude models Bedrock answers a cache point on with a 400 ("You invoked an unsupported model, or your request did
# not allow prompt caching"): its prompt caching starts at Claude 3.5 Haiku and 3.5 Sonnet v2.
_BEDROCK_UNCACHED = re.compile(
    r"claude-(?:v\d|instant|3-(?:haiku|sonnet|opus)|3-5-sonnet-20240620)", re.IGNORECASE
)


def applies(target: Target) -> bool:
    """Switched on for this provider (or BYOK key), and the model is Claude."""
    if not target.config.get(CONFIG_KEY) or target.format not in _CLAUDE_FORMATS:
        return False
    if target.format == "anthropic":
        return True
    if target.format == "bedrock" and _BEDROCK_UNCACHED.search(target.model):
        return False
    family = str(target.config.get("family") or "").lower()
    return family in ("anthropic", "claude") or "claude" in target.model.lower()


def with_breakpoint(
    body: dict[str, Any], kind: str, target: Target, notes: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """`body` with one automatic breakpoint when `target` asks for it and the caller set none; the change is
    added to `notes` (the attempt's adjustments on the log row)."""
    if kind not in ("chat", "messages") or not applies(target) or has_cache_control(body):
        return body, notes
    marked = _chat(body) if kind == "chat" else _native(body)
    if marked is None:
        return body, notes
    out, where = marked
    return out, [*notes, f"cache_control breakpoint added on {where}"]


def has_cache_control(body: dict[str, Any]) -> bool:
    """Any `cache_control` in the messages, system prompt or tools (iterative: a deeply nested body cannot
    exhaust the interpreter's stack)."""
    stack: list[Any] = [body.get("messages"), body.get("system"), body.get("tools")]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if value.get("cache_control"):
                return True
            stack.extend(v for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend(v for v in value if isinstance(v, (dict, list)))
    return False


# -- OpenAI chat shape --------------------------------------------------------------------------------


def _chat(body: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for i in range(len(messages) - 1, -1, -1):
        msg = messages[i]
        if isinstance(msg, dict) and _chat_markable(msg):
            new = list(messages)
            new[i] = {**msg, "cache_control": dict(BREAKPOINT)}  # the translators put it on its last block
            return {**body, "messages": new}, f"messages[{i}]"
    return _last_tool(body)


def _chat_markable(msg: dict[str, Any]) -> bool:
    if msg.get("role") == "tool" or msg.get("tool_calls"):
        return True  # a tool_result block / a tool_use block
    content = msg.get("content")
    if isinstance(content, str):
        return bool(content.strip())
    if isinstance(content, list):  # a text, image or document part (blank text parts are dropped)
        return any(_block_markable(p) if isinstance(p, dict) else bool(str(p).strip()) for p in content)
    return False


# -- Anthropic Messages shape ---------------------------------------------------------------------------


def _native(body: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    messages = body.get("messages")
    if isinstance(messages, list):
        for i in range(len(messages) - 1, -1, -1):
            msg = messages[i]
            if not isinstance(msg, dict):
                continue
            content = _marked(msg.get("content"))
            if content is not None:
                new = list(messages)
                new[i] = {**msg, "content": content}
                return {**body, "messages": new}, f"messages[{i}]"
    system = _marked(body.get("system"))
    if system is not None:
        return {**body, "system": system}, "system"
    return _last_tool(body)


def _marked(content: Any) -> list[dict[str, Any]] | None:
    """Content (a string or blocks) with the breakpoint on its last block that can carry one, or None."""
    if isinstance(content, str):
        return (
            [{"type": "text", "text": content, "cache_control": dict(BREAKPOINT)}]
            if content.strip()
            else None
        )
    if not isinstance(content, list):
        return None
    for j in range(len(content) - 1, -1, -1):
        block = content[j]
        if isinstance(block, dict) and _block_markable(block):
            out = list(content)
            out[j] = {**block, "cache_control": dict(BREAKPOINT)}
            return out
    return None


def _block_markable(block: dict[str, Any]) -> bool:
    kind = block.get("type")
    if kind in _NO_MARKER:
        return False
    if kind == "text":
        text = block.get("text")
        return isinstance(text, str) and bool(text.strip())
    return isinstance(kind, str)


def _last_tool(body: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools or not isinstance(tools[-1], dict):
        return None
    new = list(tools)
    new[-1] = {**tools[-1], "cache_control": dict(BREAKPOINT)}
    return {**body, "tools": new}, f"tools[{len(tools) - 1}]"
