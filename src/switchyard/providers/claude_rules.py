"""Claude's extended-thinking rules, shared by every route to Claude (Anthropic, Bedrock, Claude on Vertex).

What OpenAI-format callers send (`reasoning_effort`, a `thinking` object, forced tools, tool loops) must become a
request Claude accepts. Anthropic documents three refusals that these callers hit:

- thinking together with a forced tool (`tool_choice` `any` or `tool`): "Thinking may not be enabled when
  tool_choice forces tool use". The caller's explicit demand for a tool wins: thinking is off for that request.
- a tool loop continued while thinking is on, whose last assistant tool-use turn does not start with a signed
  thinking block (OpenAI-format clients drop `thinking_blocks`): "a final assistant message must start with a
  thinking block". Anthropic's documented way out is thinking off for that turn; the next user turn starts a new
  assistant turn and thinking comes back.
- `max_tokens` not above `budget_tokens`, and `temperature`/`top_k` (or `top_p` outside [0.95, 1]) with thinking.

The translators detect the conditions in their own wire format and call `decide`; the budget and sampling rules
are applied by `fit_budget` and `sampling_under_thinking`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024
THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768}
ADAPTIVE_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "high"}

FORCED_TOOL = "forced_tool_choice"
UNSIGNED_TOOL_TURN = "unsigned_tool_turn"


def requested(
    body: dict[str, Any], given: Any, target_config: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """The thinking the caller asked for (an explicit `thinking` object, else `reasoning_effort`) and, for adaptive
    thinking, the effort to put in `output_config`. (None, None) when the caller asked for none."""
    if isinstance(given, dict):
        return dict(given), None
    effort = body.get("reasoning_effort")
    if effort not in THINKING_BUDGETS:
        return None, None  # absent, "none", or unknown
    if target_config.get("thinking_mode") == "adaptive":
        return {"type": "adaptive"}, ADAPTIVE_EFFORT[effort]
    return {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}, None


def is_on(thinking: dict[str, Any] | None) -> bool:
    return thinking is not None and thinking.get("type") in ("enabled", "adaptive")


def decide(
    thinking: dict[str, Any] | None, *, forced_tool: bool, unsigned_tool_turn: bool
) -> tuple[dict[str, Any] | None, str | None]:
    """Thinking as Claude will accept it for this request: (thinking or None, why it was switched off or None)."""
    if not is_on(thinking):
        return thinking, None
    if forced_tool:
        return None, FORCED_TOOL
    if unsigned_tool_turn:
        return None, UNSIGNED_TOOL_TURN
    return thinking, None


def fit_budget(thinking: dict[str, Any], explicit: int | None, current: int) -> int:
    """max_tokens with room for the thinking budget: Claude needs max_tokens > budget_tokens. An explicit limit above
    the budget is kept (OpenAI's max_completion_tokens counts reasoning too); otherwise the budget goes on top."""
    budget = thinking.get("budget_tokens")
    if thinking.get("type") == "enabled" and isinstance(budget, int) and (not explicit or current <= budget):
        return current + budget
    return current


def shrink_to_cap(thinking: dict[str, Any] | None, cap: int) -> dict[str, Any] | None:
    """After max_tokens was capped to the model's ceiling: a budget that no longer fits shrinks below it, leaving at
    least MIN_THINKING_BUDGET for the answer, or thinking goes when no budget fits."""
    if not thinking:
        return thinking
    budget = thinking.get("budget_tokens")
    if thinking.get("type") != "enabled" or not isinstance(budget, int) or budget < cap:
        return thinking
    if cap - MIN_THINKING_BUDGET < MIN_THINKING_BUDGET:
        return None
    return {**thinking, "budget_tokens": cap - MIN_THINKING_BUDGET}


def sampling_under_thinking(temperature: Any, top_k: Any, top_p: Any) -> tuple[None, None, Any]:
    """Claude refuses temperature and top_k with thinking and allows top_p only in [0.95, 1]."""
    if isinstance(top_p, (int, float)) and not isinstance(top_p, bool):
        top_p = max(0.95, min(1.0, top_p))
    return None, None, top_p


def open_tool_turn(messages: list[dict[str, Any]], *, uses_tool: Any, starts_with_thinking: Any) -> bool:
    """True when the conversation continues a tool loop (only tool results after the last assistant turn) and that
    assistant turn used a tool without leading with a thinking block. The predicates read one message in the
    translator's own wire format."""
    for msg in reversed(messages):
        if msg.get("role") == "assistant":
            return bool(uses_tool(msg)) and not starts_with_thinking(msg)
        if not _only_tool_results(msg):
            return False
    return False


def _only_tool_results(msg: dict[str, Any]) -> bool:
    content = msg.get("content")
    if not isinstance(content, list) or not content:
        return False
    return all(isinstance(b, dict) and (b.get("type") == "tool_result" or "toolResult" in b) for b in content)


# --- structured outputs ---------------------------------------------------------------------------------------
# Anthropic offers native structured outputs (`output_config.format`, Converse `outputConfig.textFormat`) only on
# its newer models (the registry's `structured_output: native`); every Claude model with tool use can instead be
# made to answer through one forced tool whose input schema is the wanted JSON. `json_object` has no native
# equivalent at all: it is always the forced tool with an open object schema. The translators map the tool's
# input back to `message.content` as JSON text, so the caller sees what OpenAI would have answered.

OPEN_OBJECT: dict[str, Any] = {"type": "object"}


def structured_output(fmt: Any, mode: Any) -> tuple[str, dict[str, Any], dict[str, Any], str | None] | None:
    """How `response_format` reaches Claude: (technique, schema, json_schema spec, adjustment note or None), or None
    for plain text. `mode` is the target's `json_schema_mode` (`native` where the model has structured outputs;
    anything else means the forced tool)."""
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return "tool", OPEN_OBJECT, {"name": "json_object"}, "response_format json_object → forced tool"
    if fmt.get("type") != "json_schema":
        return None  # "text" is the default
    spec = s if isinstance(s := fmt.get("json_schema"), dict) else {}
    schema = spec.get("schema") or OPEN_OBJECT
    if mode == "native":
        return "native", schema, spec, None
    return (
        "tool",
        schema,
        spec,
        "response_format json_schema → forced tool (no native structured outputs here)",
    )
