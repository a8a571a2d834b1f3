"""A `Turn` (tests/support/agent_model.py) in each provider's documented wire shape, whole and as a stream.

SYNTHETIC: shaped after each provider's API reference (OpenAI chat completions and Responses, Anthropic
Messages, Gemini generateContent, Bedrock Converse/ConverseStream and InvokeModel), not recordings.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fixtures.synthetic.bedrock.eventstream import event, frame

from .agent_model import Turn

USAGE_IN, USAGE_OUT = 20, 10


def _args(call: Any) -> str:
    return json.dumps(call.args, ensure_ascii=False)


def sse(events: list[tuple[str | None, Any]]) -> bytes:
    out = b""
    for name, data in events:
        payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        out += (f"event: {name}\n" if name else "").encode() + f"data: {payload}\n\n".encode()
    return out


# --- OpenAI chat completions ------------------------------------------------------------------------------------


def openai_chat(turn: Turn, model: str, rid: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": turn.text, "refusal": None}
    if turn.calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": _args(c)}}
            for c in turn.calls
        ]
    return {
        "id": rid,
        "object": "chat.completion",
        "created": 1760000000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": turn.finish, "logprobs": None}],
        "usage": _openai_usage(turn),
    }


def _openai_usage(turn: Turn) -> dict[str, Any]:
    return {
        "prompt_tokens": USAGE_IN,
        "completion_tokens": USAGE_OUT,
        "total_tokens": USAGE_IN + USAGE_OUT,
        "completion_tokens_details": {"reasoning_tokens": 6 if turn.thinking else 0},
    }


def openai_chat_stream(turn: Turn, model: str, rid: str, include_usage: bool) -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": 1760000000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    events: list[tuple[str | None, Any]] = [(None, chunk({"role": "assistant", "content": ""}))]
    if turn.text:
        half = len(turn.text) // 2
        events += [(None, chunk({"content": turn.text[:half]})), (None, chunk({"content": turn.text[half:]}))]
    for i, c in enumerate(turn.calls):
        events.append(
            (
                None,
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": i,
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.name, "arguments": ""},
                            }
                        ]
                    }
                ),
            )
        )
        events.append((None, chunk({"tool_calls": [{"index": i, "function": {"arguments": _args(c)}}]})))
    events.append((None, chunk({}, turn.finish)))
    if include_usage:
        events.append(
            (
                None,
                {
                    "id": rid,
                    "object": "chat.completion.chunk",
                    "created": 1760000000,
                    "model": model,
                    "choices": [],
                    "usage": _openai_usage(turn),
                },
            )
        )
    return sse(events) + b"data: [DONE]\n\n"


# --- OpenAI Responses -------------------------------------------------------------------------------------------


def responses_output(turn: Turn, rid: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if turn.thinking:
        out.append({"type": "reasoning", "id": f"rs_{rid}", "summary": []})
    if turn.text is not None:
        out.append(
            {
                "type": "message",
                "id": f"msg_{rid}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": turn.text, "annotations": []}],
            }
        )
    for c in turn.calls:
        out.append(
            {
                "type": "function_call",
                "id": f"fc_{c.id}",
                "call_id": c.id,
                "name": c.name,
                "arguments": _args(c),
                "status": "completed",
            }
        )
    return out


def responses(turn: Turn, model: str, rid: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": 1760000000,
        "status": "completed",
        "model": model,
        "output": responses_output(turn, rid),
        "parallel_tool_calls": True,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "store": body.get("store", True),
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "text": body.get("text") or {"format": {"type": "text"}},
        "usage": {
            "input_tokens": USAGE_IN,
            "output_tokens": USAGE_OUT,
            "total_tokens": USAGE_IN + USAGE_OUT,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 6 if turn.thinking else 0},
        },
    }


def responses_stream(done: dict[str, Any]) -> bytes:
    seq = iter(range(1000))
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    events: list[tuple[str | None, Any]] = [
        ("response.created", {"type": "response.created", "sequence_number": next(seq), "response": started}),
        (
            "response.in_progress",
            {"type": "response.in_progress", "sequence_number": next(seq), "response": started},
        ),
    ]

    def ev(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": next(seq), **fields}))

    for i, item in enumerate(done["output"]):
        opening = {**item, "status": "in_progress"}
        if item["type"] == "message":
            opening["content"] = []
        if item["type"] == "function_call":
            opening["arguments"] = ""
        ev("response.output_item.added", output_index=i, item=opening)
        if item["type"] == "message":
            text = item["content"][0]["text"]
            part = {"type": "output_text", "text": "", "annotations": []}
            ev("response.content_part.added", item_id=item["id"], output_index=i, content_index=0, part=part)
            ev(
                "response.output_text.delta",
                item_id=item["id"],
                output_index=i,
                content_index=0,
                delta=text,
                logprobs=[],
            )
            ev(
                "response.output_text.done",
                item_id=item["id"],
                output_index=i,
                content_index=0,
                text=text,
                logprobs=[],
            )
            ev(
                "response.content_part.done",
                item_id=item["id"],
                output_index=i,
                content_index=0,
                part=item["content"][0],
            )
        if item["type"] == "function_call":
            ev(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=i,
                delta=item["arguments"],
            )
            ev(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=i,
                arguments=item["arguments"],
            )
        ev("response.output_item.done", output_index=i, item=item)
    ev("response.completed", response=done)
    return sse(events)


# --- Anthropic Messages (also Claude on Vertex and Bedrock InvokeModel) ------------------------------------------


def anthropic_blocks(turn: Turn, signature: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.thinking:
        blocks.append({"type": "thinking", "thinking": turn.thinking, "signature": signature})
    if turn.text is not None:
        blocks.append({"type": "text", "text": turn.text})
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.args} for c in turn.calls]
    return blocks


def anthropic(turn: Turn, model: str, rid: str, signature: str) -> dict[str, Any]:
    return {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": anthropic_blocks(turn, signature),
        "stop_reason": "tool_use" if turn.calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT},
    }


def anthropic_events(turn: Turn, model: str, rid: str, signature: str) -> list[dict[str, Any]]:
    whole = anthropic(turn, model, rid, signature)
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                **whole,
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": USAGE_IN, "output_tokens": 1},
            },
        }
    ]
    for i, block in enumerate(whole["content"]):
        kind = block["type"]
        start = {
            "thinking": {"type": "thinking", "thinking": "", "signature": ""},
            "text": {"type": "text", "text": ""},
            "tool_use": {**block, "input": {}},
        }[kind]
        events.append({"type": "content_block_start", "index": i, "content_block": start})
        if kind == "thinking":
            events.append(
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "thinking_delta", "thinking": block["thinking"]},
                }
            )
            events.append(
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "signature_delta", "signature": signature},
                }
            )
        elif kind == "text":
            events.append(
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "text_delta", "text": block["text"]},
                }
            )
        else:
            events.append(
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {
                        "type": "input_json_delta",
                        "partial_json": json.dumps(block["input"], ensure_ascii=False),
                    },
                }
            )
        events.append({"type": "content_block_stop", "index": i})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": whole["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": USAGE_OUT},
        }
    )
    events.append({"type": "message_stop"})
    return events


def anthropic_stream(turn: Turn, model: str, rid: str, signature: str) -> bytes:
    return sse([(e["type"], e) for e in anthropic_events(turn, model, rid, signature)])


def invoke_stream(turn: Turn, model: str, rid: str, signature: str) -> bytes:
    """Bedrock InvokeModelWithResponseStream: one `chunk` event per Anthropic event, its JSON base64-encoded."""
    return b"".join(
        frame(
            {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"},
            json.dumps({"bytes": base64.b64encode(json.dumps(e).encode()).decode()}).encode(),
        )
        for e in anthropic_events(turn, model, rid, signature)
    )


# --- Gemini generateContent -------------------------------------------------------------------------------------


def gemini_parts(turn: Turn) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if turn.thinking:
        parts.append({"text": turn.thinking, "thought": True})
    if turn.text is not None:
        parts.append({"text": turn.text})
    parts += [
        {"functionCall": {"name": c.name, "args": c.args}} for c in turn.calls
    ]  # Gemini 2.5 sends no ids
    return parts


def gemini(
    turn: Turn, model: str, parts: list[dict[str, Any]] | None = None, final: bool = True
) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": gemini_parts(turn) if parts is None else parts},
        "index": 0,
    }
    if final:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "modelVersion": model,
        "responseId": "mock-gemini",
        "usageMetadata": {
            "promptTokenCount": USAGE_IN,
            "candidatesTokenCount": USAGE_OUT,
            "totalTokenCount": USAGE_IN + USAGE_OUT,
            **({"thoughtsTokenCount": 6} if turn.thinking else {}),
        },
    }


def gemini_stream(turn: Turn, model: str) -> bytes:
    parts = gemini_parts(turn)
    chunks = [gemini(turn, model, [p], final=i == len(parts) - 1) for i, p in enumerate(parts)]
    return sse([(None, c) for c in chunks])


# --- Bedrock Converse ------------------------------------------------------------------------------------------


def converse_blocks(turn: Turn, signature: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.thinking:
        blocks.append(
            {"reasoningContent": {"reasoningText": {"text": turn.thinking, "signature": signature}}}
        )
    if turn.text is not None:
        blocks.append({"text": turn.text})
    blocks += [{"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.args}} for c in turn.calls]
    return blocks


def converse(turn: Turn, signature: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": converse_blocks(turn, signature)}},
        "stopReason": "tool_use" if turn.calls else "end_turn",
        "usage": {"inputTokens": USAGE_IN, "outputTokens": USAGE_OUT, "totalTokens": USAGE_IN + USAGE_OUT},
        "metrics": {"latencyMs": 12},
    }


def converse_stream(turn: Turn, signature: str) -> bytes:
    out = event("messageStart", {"role": "assistant"})
    for i, block in enumerate(converse_blocks(turn, signature)):
        if "reasoningContent" in block:
            text = block["reasoningContent"]["reasoningText"]["text"]
            out += event(
                "contentBlockDelta", {"contentBlockIndex": i, "delta": {"reasoningContent": {"text": text}}}
            )
            out += event(
                "contentBlockDelta",
                {"contentBlockIndex": i, "delta": {"reasoningContent": {"signature": signature}}},
            )
        elif "text" in block:
            out += event("contentBlockDelta", {"contentBlockIndex": i, "delta": {"text": block["text"]}})
        else:
            use = block["toolUse"]
            out += event(
                "contentBlockStart",
                {
                    "contentBlockIndex": i,
                    "start": {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}},
                },
            )
            out += event(
                "contentBlockDelta",
                {"contentBlockIndex": i, "delta": {"toolUse": {"input": json.dumps(use["input"])}}},
            )
        out += event("contentBlockStop", {"contentBlockIndex": i})
    out += event("messageStop", {"stopReason": "tool_use" if turn.calls else "end_turn"})
    return out + event(
        "metadata",
        {
            "usage": {
                "inputTokens": USAGE_IN,
                "outputTokens": USAGE_OUT,
                "totalTokens": USAGE_IN + USAGE_OUT,
            },
            "metrics": {"latencyMs": 12},
        },
    )
