"""Logged bodies → chat turns for the request page, across the caller formats."""

from __future__ import annotations

from switchyard.dashboard.conversation import request_turns, response_turns
from switchyard.dashboard.pages_detail import timeline


def kinds(turns):
    return [(t.role, [p.kind for p in t.parts]) for t in turns]


def test_openai_chat_with_tools_and_images():
    body = {
        "messages": [
            {"role": "system", "content": "sys"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ]
    }
    turns = request_turns(body)
    assert kinds(turns) == [
        ("system", ["text"]),
        ("user", ["text", "image", "image_link"]),
        ("assistant", ["tool_call"]),
        ("tool", ["tool_result"]),
    ]
    assert turns[2].parts[0].name == "weather" and '"city": "Paris"' in turns[2].parts[0].text
    assert turns[3].parts[0].name == "c1"


def test_anthropic_messages_request_and_response():
    req = {
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/jpeg", "data": "QQ=="},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "42"}]}
                ],
            },
        ],
    }
    assert kinds(request_turns(req)) == [("system", ["text"]), ("user", ["image"]), ("user", ["tool_result"])]
    assert request_turns(req)[1].parts[0].text == "data:image/jpeg;base64,QQ=="
    resp = {
        "type": "message",
        "content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "name": "calc", "input": {"x": 1}}],
    }
    assert kinds(response_turns(resp)) == [("assistant", ["text", "tool_call"])]


def test_responses_completions_and_unknown_shapes_are_never_hidden():
    assert kinds(request_turns({"input": "hello", "instructions": "sys"})) == [
        ("system", ["text"]),
        ("user", ["text"]),
    ]
    assert kinds(request_turns({"prompt": "once upon"})) == [("user", ["text"])]
    assert kinds(request_turns({"weird": 1})) == [("request", ["json"])]
    assert kinds(request_turns("not json")) == [("request", ["text"])]
    out = {
        "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
            {"type": "function_call", "name": "f", "arguments": "{}", "call_id": "x"},
        ]
    }
    assert kinds(response_turns(out)) == [("assistant", ["text"]), ("assistant", ["tool_call"])]
    assert kinds(response_turns({"error": {"message": "bad"}})) == [("error", ["json"])]
    assert kinds(response_turns({"choices": [{"text": "legacy"}]})) == [("assistant", ["text"])]


def test_attempt_timeline_places_hedges_beside_their_try():
    t = timeline(
        [
            {"provider": "a", "status": 500, "latency_ms": 100, "error": "x"},
            {"provider": "b", "status": 200, "latency_ms": 100},
            {"provider": "c", "status": 200, "latency_ms": 50, "note": "hedge"},
        ]
    )
    assert [(a["x"], a["w"], a["ok"]) for a in t] == [
        (0.0, 50.0, False),
        (50.0, 50.0, True),
        (50.0, 25.0, True),
    ]
    assert t[2]["label"] == "hedge" and t[0]["model"] is None


def test_cost_lines_use_the_planned_model_and_add_up_to_the_logged_cost():
    from types import SimpleNamespace

    from switchyard.config import Settings
    from switchyard.dashboard.pages_detail import cost_lines
    from switchyard.providers.registry import load_registry

    registry = load_registry(Settings(), {})
    row = SimpleNamespace(
        model="gpt-4o-2024-08-06",
        requested_model="gpt-4o-mini",
        provider="openai",
        status=200,
        prompt_tokens=1000,
        cached_tokens=0,
        completion_tokens=100,
        cost_usd=0.00021,
        created_at=1_764_900_000_000,
        latency_ms=1200.0,
    )
    d = SimpleNamespace(
        row=row, cache_write_tokens=0, attempts=[{"status": 200, "source": "gpt-4o-mini/openai/ptb"}]
    )
    lines = cost_lines(registry, d)
    assert [x[0] for x in lines] == ["Input", "Output"]
    assert abs(sum(x[2] for x in lines) - 0.00021) < 1e-12  # gpt-4o-mini: $0.15 in, $0.60 out per 1M
    assert (
        cost_lines(
            registry,
            SimpleNamespace(
                row=SimpleNamespace(**{**vars(row), "cost_usd": 0.5}),
                cache_write_tokens=0,
                attempts=d.attempts,
            ),
        )
        == []
    )
