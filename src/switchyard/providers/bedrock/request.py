"""OpenAI chat body → Bedrock Converse / ConverseStream request. Pure: no I/O, no signing (see sign.py).

Every message, tool and tool result is carried over. Content-free parts (empty or whitespace-only
text) are left out because Converse rejects blank text blocks; a turn left with nothing is skipped.
Design notes and the target config keys are in the package docstring.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from .. import claude_rules as claude
from ..anthropic.request import JSON_TOOL
from ..base import Target, UpstreamRequest, path_segment
from ..claude_rules import DEFAULT_MAX_TOKENS
from .messages import bad_request, cache_point, convert_messages

DEFAULT_REGION = "us-east-1"
# First dotted segment of a cross-region inference-profile id (us.anthropic..., apac.amazon...).
GEO_PREFIXES = frozenset(["us", "eu", "apac", "global", "us-gov", "jp", "au", "ca", "ap"])
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
    url = f"{base_url(target)}/model/{path_segment(model_id(target), 'Bedrock model id')}/{action}"
    headers = {
        "content-type": "application/json",
        "accept": "application/vnd.amazon.eventstream" if stream else "application/json",
    }
    headers.update(target.headers)
    how = claude.structured_output(body.get("response_format"), target.config.get("json_schema_mode"))
    notes = [how[3]] if how is not None and how[3] else []
    return UpstreamRequest("POST", url, headers, orjson.dumps(translate(body, target)), stream, notes)


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
    tool_config = _tool_config(body, messages)
    if vendor == "anthropic":
        _apply_reasoning(body, inference, extra, output_config, target, tool_config, messages)
    _cap_max_tokens(inference, extra, target)
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
    tool_config: dict[str, Any] | None,
    messages: list[dict[str, Any]],
) -> None:
    """Claude extended thinking (claude_rules), in `additionalModelRequestFields`."""
    thinking, effort = claude.requested(body, extra.get("thinking", body.get("thinking")), target.config)
    choice = (tool_config or {}).get("toolChoice") or {}
    thinking, _ = claude.decide(
        thinking,
        forced_tool="any" in choice or "tool" in choice,
        unsigned_tool_turn=claude.open_tool_turn(
            messages, uses_tool=_uses_tool, starts_with_thinking=_leads_with_reasoning
        ),
    )
    if thinking is None:
        extra.pop("thinking", None)
        return
    if effort is not None:
        output_config.setdefault("effort", effort)
    explicit = inference.get("maxTokens")
    inference["maxTokens"] = claude.fit_budget(thinking, explicit, explicit or DEFAULT_MAX_TOKENS)
    if not explicit and inference["maxTokens"] == DEFAULT_MAX_TOKENS:
        del inference["maxTokens"]  # nothing asked and no budget to make room for: Converse's own default
    if claude.is_on(thinking):
        inference.pop("temperature", None)
        extra.pop("top_k", None)
        if "topP" in inference:
            inference["topP"] = claude.sampling_under_thinking(None, None, inference["topP"])[2]
    extra["thinking"] = thinking


def _uses_tool(msg: dict[str, Any]) -> bool:
    return any(isinstance(b, dict) and "toolUse" in b for b in msg.get("content") or [])


def _leads_with_reasoning(msg: dict[str, Any]) -> bool:
    content = msg.get("content") or []
    return bool(content) and isinstance(content[0], dict) and "reasoningContent" in content[0]


def _cap_max_tokens(inference: dict[str, Any], extra: dict[str, Any], target: Target) -> None:
    cap = target.config.get("max_output")
    if not cap or not inference.get("maxTokens") or inference["maxTokens"] <= cap:
        return
    inference["maxTokens"] = cap
    thinking = claude.shrink_to_cap(extra.get("thinking"), cap)
    if thinking is None:
        extra.pop("thinking", None)  # no room for a thinking budget: answer without thinking
    elif "thinking" in extra:
        extra["thinking"] = thinking


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
    point = cache_point(tool.get("cache_control") or fn.get("cache_control"))
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
    how = claude.structured_output(body.get("response_format"), target.config.get("json_schema_mode"))
    if how is None:
        return tool_config  # "text" is the default
    technique, schema, spec, _ = how  # json_object: always the forced tool with an open object schema
    if technique == "native":
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
