"""The "model" behind the agent upstream (tests/support/agent_upstream.py): it reads what a request asks in any
provider's wire shape into one neutral `Ask`, and decides one `Turn` the way a well-behaved model would.

- Tools offered and the last message is the user's: call the first tool (a forced choice names the tool).
- The last message carries tool results: answer in text, unless the choice forces a tool (then a tool not yet
  called, e.g. pydantic-ai's `final_result`).
- A requested schema (json_schema, output_config, responseSchema, Converse textFormat) is answered with an
  instance of that schema; a bare JSON mode with a small JSON object; otherwise plain text.
- Reasoning requested: a thinking block comes first (Anthropic shapes carry a signature the mock checks later).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ANSWER = "It is 21 °C in Paris."
JSON_OBJECT = {"city": "Paris", "temp_c": 21}


@dataclass
class Ask:
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    forced: str | None = None  # None (auto), "any", or a tool name; "none" withholds tools
    after_tool: bool = False
    called: list[str] = field(default_factory=list)
    schema: dict[str, Any] | None = None
    json_object: bool = False
    thinking: bool = False


@dataclass
class Call:
    id: str
    name: str
    args: dict[str, Any]


@dataclass
class Turn:
    thinking: str | None
    text: str | None
    calls: list[Call]

    @property
    def finish(self) -> str:
        return "tool_calls" if self.calls else "stop"


def decide(ask: Ask, new_id: Any) -> Turn:
    """`new_id(kind)` hands out unique ids ("call", "toolu", "tooluse", ...)."""
    thinking = "The user asks about the weather; a tool can tell." if ask.thinking else None
    name = _tool_to_call(ask)
    if name is not None:
        schema = dict(ask.tools)[name]
        args = dict(JSON_OBJECT) if _open_object(schema) else instance(schema)  # open: follow the prompt
        return Turn(thinking, None, [Call(new_id(), name, args)])
    if ask.schema is not None and not _open_object(ask.schema):
        return Turn(thinking, json.dumps(instance(ask.schema), ensure_ascii=False), [])
    if ask.json_object or ask.schema is not None:  # JSON mode: a model follows the prompt's own instructions
        return Turn(thinking, json.dumps(JSON_OBJECT), [])
    return Turn(thinking, ANSWER, [])


def _open_object(schema: dict[str, Any]) -> bool:
    return not (schema.keys() & {"properties", "$ref", "anyOf", "oneOf", "allOf", "items", "enum"})


def _tool_to_call(ask: Ask) -> str | None:
    names = [n for n, _ in ask.tools]
    if not names or ask.forced == "none":
        return None
    if ask.forced not in (None, "any"):
        return ask.forced if ask.forced in names else None
    if not ask.after_tool:
        return names[0]
    if ask.forced == "any":
        return next((n for n in names if n not in ask.called), names[-1])
    return None


def instance(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """A minimal valid instance of a JSON schema (strings "Paris", integers 21)."""
    if not isinstance(schema, dict):
        return "Paris"
    defs = {**(defs or {}), **schema.get("$defs", {}), **schema.get("definitions", {})}
    if "$ref" in schema:
        return instance(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key, []) if not (isinstance(o, dict) and o.get("type") == "null")]
        if options:
            return instance(options[0], defs)
    if schema.get("allOf"):
        return instance(schema["allOf"][0], defs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = (kind or ("object" if "properties" in schema else "string")).lower()
    if kind == "object":
        return {k: instance(v, defs) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [instance(schema.get("items") or {"type": "string"}, defs)]
    return {"string": "Paris", "integer": 21, "number": 21.5, "boolean": True, "null": None}.get(
        kind, "Paris"
    )


# --- readers: one per wire -------------------------------------------------------------------------------------


def read_openai_chat(body: dict[str, Any]) -> Ask:
    msgs = body.get("messages") or []
    tools = [(t["function"]["name"], t["function"].get("parameters") or {}) for t in body.get("tools") or []]
    choice = body.get("tool_choice")
    fmt = body.get("response_format") or {}
    return Ask(
        tools=tools,
        forced=_openai_choice(choice),
        after_tool=bool(msgs) and msgs[-1].get("role") == "tool",
        called=[c["function"]["name"] for m in msgs for c in m.get("tool_calls") or []],
        schema=(fmt.get("json_schema") or {}).get("schema", {}) if fmt.get("type") == "json_schema" else None,
        json_object=fmt.get("type") == "json_object",
        thinking=body.get("reasoning_effort") not in (None, "none", "minimal"),
    )


def _openai_choice(choice: Any) -> str | None:
    if choice in ("required", "none"):
        return "any" if choice == "required" else "none"
    if isinstance(choice, dict):
        return (choice.get("function") or {}).get("name") or choice.get("name")
    return None


def read_responses(body: dict[str, Any], earlier: list[dict[str, Any]]) -> Ask:
    items = body.get("input")
    items = (
        [{"type": "message", "role": "user", "content": items}]
        if isinstance(items, str)
        else list(items or [])
    )
    tools = [
        (t["name"], t.get("parameters") or {}) for t in body.get("tools") or [] if t.get("type") == "function"
    ]
    fmt = (body.get("text") or {}).get("format") or {}
    last = items[-1] if items else {}
    return Ask(
        tools=tools,
        forced=_openai_choice(body.get("tool_choice")),
        after_tool=last.get("type") == "function_call_output",
        called=[i["name"] for i in earlier + items if i.get("type") == "function_call"],
        schema=fmt.get("schema", {}) if fmt.get("type") == "json_schema" else None,
        json_object=fmt.get("type") == "json_object",
        thinking=bool((body.get("reasoning") or {}).get("effort")),
    )


def read_anthropic(body: dict[str, Any]) -> Ask:
    msgs = body.get("messages") or []
    last = msgs[-1].get("content") if msgs else None
    choice = body.get("tool_choice") or {}
    forced = {"any": "any", "none": "none", "tool": choice.get("name")}.get(choice.get("type"))
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format") or {}
    thinking = body.get("thinking") or {}
    return Ask(
        tools=[
            (t["name"], t.get("input_schema") or {}) for t in body.get("tools") or [] if "input_schema" in t
        ],
        forced=forced,
        after_tool=isinstance(last, list) and any(b.get("type") == "tool_result" for b in last),
        called=[
            b["name"]
            for m in msgs
            if isinstance(m.get("content"), list)
            for b in m["content"]
            if b.get("type") == "tool_use"
        ],
        schema=fmt.get("schema", {}) if fmt.get("type") == "json_schema" else None,
        thinking=thinking.get("type") in ("enabled", "adaptive"),
    )


def read_gemini(body: dict[str, Any]) -> Ask:
    contents = body.get("contents") or []
    parts = contents[-1].get("parts", []) if contents else []
    decls = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    mode = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    forced = None
    if mode.get("mode") == "ANY":
        allowed = mode.get("allowedFunctionNames") or []
        forced = allowed[0] if len(allowed) == 1 else "any"
    elif mode.get("mode") == "NONE":
        forced = "none"
    gen = body.get("generationConfig") or {}
    schema = gen.get("responseJsonSchema") or gen.get("responseSchema") or gen.get("response_json_schema")
    return Ask(
        tools=[(d["name"], d.get("parametersJsonSchema") or d.get("parameters") or {}) for d in decls],
        forced=forced,
        after_tool=any("functionResponse" in p for p in parts),
        called=[
            p["functionCall"]["name"] for c in contents for p in c.get("parts", []) if "functionCall" in p
        ],
        schema=schema,
        json_object=schema is None and gen.get("responseMimeType") == "application/json",
        thinking=bool((gen.get("thinkingConfig") or {}).get("includeThoughts")),
    )


def read_converse(body: dict[str, Any]) -> Ask:
    msgs = body.get("messages") or []
    last = msgs[-1].get("content", []) if msgs else []
    config = body.get("toolConfig") or {}
    choice = config.get("toolChoice") or {}
    forced = "any" if "any" in choice else (choice.get("tool") or {}).get("name")
    fmt = (body.get("outputConfig") or {}).get("textFormat") or {}
    spec = ((fmt.get("structure") or {}).get("jsonSchema") or {}).get("schema")
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking") or {}
    return Ask(
        tools=[
            (t["toolSpec"]["name"], t["toolSpec"]["inputSchema"]["json"])
            for t in config.get("tools") or []
            if "toolSpec" in t
        ],
        forced=forced,
        after_tool=any("toolResult" in b for b in last),
        called=[b["toolUse"]["name"] for m in msgs for b in m.get("content", []) if "toolUse" in b],
        schema=json.loads(spec) if isinstance(spec, str) else spec,
        thinking=thinking.get("type") in ("enabled", "adaptive"),
    )
