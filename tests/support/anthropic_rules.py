"""What Anthropic's Messages API refuses, for the mock upstreams: a permissive mock hides exactly the bugs users hit.

Each rule is one Anthropic documents (extended thinking, tool use, sampling ranges, per-model maximum output and
structured outputs); `refusal(body)` answers the message of the first rule the body breaks, or None.
"""

from __future__ import annotations

from typing import Any

# Per model, what Anthropic's model table says (max output; structured outputs; temperature and top_p exclusive).
# Keyed by the id without its date or Vertex "@" suffix; ids the table does not know are not checked.
MODELS: dict[str, tuple[int, bool, bool]] = {
    # id prefix: (max output tokens, native structured outputs, one of temperature/top_p only)
    "claude-3-haiku": (4096, False, False),
    "claude-3-5-haiku": (8192, False, False),
    "claude-3-7-sonnet": (64000, False, False),
    "claude-sonnet-4-5": (64000, True, True),
    "claude-sonnet-4-6": (128000, True, True),
    "claude-haiku-4-5": (64000, True, True),
    "claude-opus-4-5": (64000, True, True),
    "claude-opus-4-6": (128000, True, True),
    "claude-opus-4-1": (32000, False, False),
    "claude-sonnet-4": (64000, False, False),
    "claude-opus-4": (32000, False, False),
}


def model_facts(model: Any) -> tuple[int, bool, bool] | None:
    """The table's entry for a model id (`claude-sonnet-4-20250514`, `claude-sonnet-4@20250514`,
    `anthropic.claude-sonnet-4-20250514-v1:0`): the longest matching prefix."""
    if not isinstance(model, str):
        return None
    name = model.split("@")[0].removeprefix("anthropic.").split(".")[-1]
    best = max((p for p in MODELS if name.startswith(p)), key=len, default=None)
    return MODELS[best] if best else None


def refusal(body: Any, model: str | None = None) -> str | None:
    """`model`: the model id where it is not in the body (Claude on Vertex names it in the URL)."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    for rule in (
        _temperature,
        _thinking_sampling,
        _thinking_budget,
        _thinking_forced_tool,
        _thinking_history,
        _unique_tool_ids,
        _cache_breakpoints,
    ):
        message = rule(body)
        if message:
            return message
    return _model_limits(body, model or body.get("model"))


def _model_limits(body: dict[str, Any], model: Any) -> str | None:
    facts = model_facts(model)
    if facts is None:
        return None
    ceiling, structured, one_sampler = facts
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens > ceiling:
        return (
            f"max_tokens: {max_tokens} > {ceiling}, which is the maximum allowed number of output tokens "
            f"for {model}"
        )
    output_config = body.get("output_config")
    if not structured and isinstance(output_config, dict) and "format" in output_config:
        return f"'{model}' does not support structured outputs (output_config.format)."
    if one_sampler and body.get("temperature") is not None and body.get("top_p") is not None:
        return "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    return None


def _thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _temperature(body: dict[str, Any]) -> str | None:
    t = body.get("temperature")
    if t is not None and not (isinstance(t, (int, float)) and 0 <= t <= 1):
        return "temperature: range: 0..1"
    return None


def _thinking_sampling(body: dict[str, Any]) -> str | None:
    if not _thinking_on(body):
        return None
    if body.get("temperature") not in (None, 1):
        return "`temperature` may only be set to 1 when thinking is enabled or in interleaved thinking mode."
    if body.get("top_k") is not None:
        return "`top_k` is not supported when thinking is enabled."
    top_p = body.get("top_p")
    if top_p is not None and not 0.95 <= top_p <= 1:
        return "`top_p` must be between 0.95 and 1 when thinking is enabled."
    return None


def _thinking_budget(body: dict[str, Any]) -> str | None:
    thinking = body.get("thinking") or {}
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    if thinking and thinking.get("type") == "enabled":
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if body.get("max_tokens", 0) <= budget:
            return "`max_tokens` must be greater than `thinking.budget_tokens`."
    return None


def _thinking_forced_tool(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    if _thinking_on(body) and isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def _thinking_history(body: dict[str, Any]) -> str | None:
    """With thinking on, the assistant turn a tool loop continues must lead with its (signed) thinking block."""
    if not _thinking_on(body):
        return None
    messages = body.get("messages") or []
    for i in range(len(messages) - 1, -1, -1):
        msg = messages[i]
        content = msg.get("content")
        if msg.get("role") == "assistant":
            if isinstance(content, list) and any(b.get("type") == "tool_use" for b in content):
                first = content[0].get("type")
                if first not in ("thinking", "redacted_thinking"):
                    return (
                        f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. "
                        "When `thinking` is enabled, a final `assistant` message must start with a thinking block."
                    )
                if first == "thinking" and not content[0].get("signature"):
                    return f"messages.{i}.content.0.thinking.signature: Field required"
            return None
        if not (
            isinstance(content, list) and content and all(b.get("type") == "tool_result" for b in content)
        ):
            return None
    return None


def _unique_tool_ids(body: dict[str, Any]) -> str | None:
    seen: set[str] = set()
    for i, msg in enumerate(body.get("messages") or []):
        content = msg.get("content")
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_use":
                if block.get("id") in seen:
                    return f"messages.{i}: `tool_use` ids must be unique"
                seen.add(block.get("id"))
    return None


MAX_CACHE_BREAKPOINTS = 4


def _cache_breakpoints(body: dict[str, Any]) -> str | None:
    """Prompt caching: at most 4 blocks with `cache_control` (tools, system, messages and blocks nested in tool
    results); none on a blank text block or a thinking block."""
    found = 0
    tools = body.get("tools")
    found += (
        sum(1 for t in tools if isinstance(t, dict) and t.get("cache_control"))
        if isinstance(tools, list)
        else 0
    )
    places: list[tuple[str, Any]] = []
    if isinstance(body.get("system"), list):
        places.append(("system", body["system"]))
    for i, msg in enumerate(body.get("messages") or []):
        if isinstance(msg, dict) and isinstance(msg.get("content"), list):
            places.append((f"messages.{i}.content", msg["content"]))
    while places:
        where, blocks = places.pop()
        for j, block in enumerate(blocks):
            if not isinstance(block, dict):
                continue
            if isinstance(block.get("content"), list):  # a tool_result's own blocks
                places.append((f"{where}.{j}.content", block["content"]))
            if not block.get("cache_control"):
                continue
            found += 1
            kind = block.get("type")
            if kind in ("thinking", "redacted_thinking"):
                return f"{where}.{j}.{kind}.cache_control: Extra inputs are not permitted"
            if kind == "text" and not str(block.get("text") or "").strip():
                return f"{where}.{j}.text: cache_control cannot be set for empty text blocks"
    if found > MAX_CACHE_BREAKPOINTS:
        return (
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found {found}."
        )
    return None
