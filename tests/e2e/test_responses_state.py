"""Stateful Responses API on bridged providers (issue 11 item 3), with the official `openai` SDK against a real
gateway: `store` on (the default) keeps the answer, and the next request's `previous_response_id` or
`item_reference` items are expanded into the whole conversation before it is translated for Claude or Gemini —
the way the Vercel AI SDK and the Agents SDK run tool loops. Scoped to the organisation; `store: false` keeps
nothing; native OpenAI Responses are forwarded untouched (OpenAI keeps its own state)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from support.gateway import GatewayProcess, default_config, free_port
from support.wire import exchange

TOOLS = [
    {
        "type": "function",
        "name": "get_capital",
        "description": "The capital of a country",
        "parameters": {
            "type": "object",
            "properties": {"country": {"type": "string"}},
            "required": ["country"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]
CLAUDE = "claude-sonnet-4/anthropic"
GEMINI = "gemini-2.5-flash/google-ai-studio"
ANTHROPIC_TEXT = exchange("anthropic/messages.json")["response"]["body"]["content"][0]["text"]


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)


@pytest.fixture
def other_org(gateway) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.url}/v1", api_key=gateway.new_key("responses-other-org"), max_retries=0
    )


def tool_pairs_ok(messages: list[dict]) -> None:
    """What Anthropic requires of a tool loop: each tool_result answers a tool_use of the message just before."""
    for i, m in enumerate(messages):
        results = (
            [b["tool_use_id"] for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
            if isinstance(m["content"], list)
            else []
        )
        if results:
            prev = messages[i - 1]
            uses = {b["id"] for b in prev["content"] if b.get("type") == "tool_use"}
            assert prev["role"] == "assistant" and set(results) <= uses, messages


def first_call(response):
    return next(item for item in response.output if item.type == "function_call")


# -- Claude: a two-step tool loop ------------------------------------------------------------------------------


def test_previous_response_id_continues_a_tool_loop_on_claude(client, upstream):
    first = client.responses.create(
        model=CLAUDE, input="Capital of France? [[tools]]", tools=TOOLS, instructions="Use the tool."
    )
    assert first.store is True
    call = first_call(first)
    second = client.responses.create(
        model=CLAUDE,
        tools=TOOLS,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Paris"}],
    )
    assert second.output_text == ANTHROPIC_TEXT
    assert second.previous_response_id == first.id and second.id != first.id
    sent = upstream.last("/messages").body
    msgs = sent["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert "Capital of France?" in json.dumps(msgs[0]["content"])
    use = next(b for b in msgs[1]["content"] if b["type"] == "tool_use")
    assert (use["id"], use["name"]) == (call.call_id, call.name)
    assert msgs[2]["content"][0]["tool_use_id"] == call.call_id
    assert "system" not in sent  # instructions of the previous response are not carried over (as on OpenAI)
    tool_pairs_ok(msgs)


def test_item_references_stand_for_the_stored_items_on_claude(client, upstream):
    """What the Vercel AI SDK sends with store on: earlier assistant output as item_reference items."""
    first = client.responses.create(model=CLAUDE, input="Capital of Italy? [[tools]]", tools=TOOLS)
    refs = [{"type": "item_reference", "id": item.id} for item in first.output]
    call = first_call(first)
    second = client.responses.create(
        model=CLAUDE,
        tools=TOOLS,
        input=[
            {"role": "user", "content": "Capital of Italy?"},
            *refs,
            {"type": "function_call_output", "call_id": call.call_id, "output": "Rome"},
        ],
    )
    assert second.output_text == ANTHROPIC_TEXT
    msgs = upstream.last("/messages").body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    use = next(b for b in msgs[1]["content"] if b["type"] == "tool_use")
    assert (use["id"], use["input"]) == (call.call_id, json.loads(call.arguments))
    tool_pairs_ok(msgs)


def test_a_third_turn_chains_through_two_stored_responses(client, upstream):
    first = client.responses.create(model=CLAUDE, input="My name is Ada.")
    second = client.responses.create(model=CLAUDE, input="I live in Zürich.", previous_response_id=first.id)
    client.responses.create(model=CLAUDE, input="Where do I live?", previous_response_id=second.id)
    msgs = upstream.last("/messages").body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user"]
    texts = [json.dumps(m["content"], ensure_ascii=False) for m in msgs]
    assert "Ada" in texts[0] and "Zürich" in texts[2] and "Where do I live" in texts[4]
    assert ANTHROPIC_TEXT in texts[1] and ANTHROPIC_TEXT in texts[3]


def test_a_streamed_answer_is_kept_too(client, upstream):
    with client.responses.stream(model=CLAUDE, input="Tell me about Paris.") as s:
        final = s.get_final_response()
    assert final.store is True
    client.responses.create(model=CLAUDE, input="And Lyon?", previous_response_id=final.id)
    msgs = upstream.last("/messages").body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    content = msgs[1]["content"]
    assert (content if isinstance(content, str) else "".join(b["text"] for b in content)) == final.output_text


# -- Gemini -----------------------------------------------------------------------------------------------------


def test_previous_response_id_and_item_reference_on_gemini(client, upstream):
    first = client.responses.create(model=GEMINI, input="Capital of Spain? [[tools]]", tools=TOOLS)
    call = first_call(first)
    client.responses.create(
        model=GEMINI,
        tools=TOOLS,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Madrid"}],
    )
    contents = upstream.last("generateContent").body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"][0]["functionCall"]["name"] == call.name
    assert contents[2]["parts"][0]["functionResponse"]["name"] == call.name

    client.responses.create(
        model=GEMINI,
        tools=TOOLS,
        input=[
            {"role": "user", "content": "Capital of Spain?"},
            {"type": "item_reference", "id": call.id},
            {"type": "function_call_output", "call_id": call.call_id, "output": "Madrid"},
        ],
    )
    contents = upstream.last("generateContent").body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"][0]["functionCall"]["name"] == call.name


# -- scope, store: false, errors ---------------------------------------------------------------------------------


def test_another_organisation_cannot_use_the_ids(client, other_org):
    first = client.responses.create(model=CLAUDE, input="A secret: 42.")
    with pytest.raises(openai.BadRequestError) as e:
        other_org.responses.create(model=CLAUDE, input="What was the secret?", previous_response_id=first.id)
    assert (
        e.value.body["code"] == "previous_response_not_found"
        and e.value.body["param"] == "previous_response_id"
    )
    assert first.id in e.value.body["message"]
    with pytest.raises(openai.NotFoundError) as e:
        other_org.responses.create(model=CLAUDE, input=[{"type": "item_reference", "id": first.output[0].id}])
    assert first.output[0].id in e.value.body["message"] and e.value.body["param"] == "input"
    # the owner still can
    client.responses.create(model=CLAUDE, input="What was the secret?", previous_response_id=first.id)


def test_store_false_keeps_nothing(client):
    first = client.responses.create(model=CLAUDE, input="Forget this.", store=False)
    assert first.store is False
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=CLAUDE, input="What was it?", previous_response_id=first.id)
    assert e.value.body["code"] == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model=CLAUDE, input=[{"type": "item_reference", "id": first.output[0].id}])


def test_unknown_ids_are_openais_errors(gateway):
    r = httpx.post(
        f"{gateway.url}/v1/responses",
        headers=gateway.headers(),
        timeout=10,
        json={"model": CLAUDE, "input": "hi", "previous_response_id": "resp_doesnotexist"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"] == {
        "message": "Previous response with id 'resp_doesnotexist' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }
    r = httpx.post(
        f"{gateway.url}/v1/responses",
        headers=gateway.headers(),
        timeout=10,
        json={"model": CLAUDE, "input": [{"type": "item_reference", "id": "msg_nope"}]},
    )
    assert r.status_code == 404, r.text
    assert r.json()["error"]["message"].startswith("Item with id 'msg_nope' not found.")
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_native_openai_responses_pass_through_untouched(client, upstream):
    client.responses.create(
        model="gpt-4o-mini",
        input="Next?",
        previous_response_id="resp_openai_side_123",
        extra_body={"store": True},
    )
    sent = upstream.last("/responses").body
    assert sent["previous_response_id"] == "resp_openai_side_123" and sent["input"] == "Next?"


def test_a_native_first_plan_keeps_the_reference_for_openai(gateway, upstream):
    """gpt-4o-mini first, Claude as fallback: the OpenAI id is OpenAI's to resolve, the body goes there as sent."""
    r = httpx.post(
        f"{gateway.url}/v1/responses",
        headers=gateway.headers(),
        timeout=10,
        json={"model": f"gpt-4o-mini,{CLAUDE}", "input": "Next?", "previous_response_id": "resp_oai_1"},
    )
    assert r.status_code == 200, r.text
    assert upstream.last("/responses").body["previous_response_id"] == "resp_oai_1"


# -- retention off -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keeps_nothing(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(
        tmp_path_factory.mktemp("gw-no-state"),
        default_config(upstream.url, free_port(), responses={"retention_days": 0}),
    )
    gw.prepare()
    gw.start()
    yield gw
    gw.stop()


def test_retention_zero_keeps_nothing_and_says_so(keeps_nothing):
    c = openai.OpenAI(base_url=f"{keeps_nothing.url}/v1", api_key=keeps_nothing.key, max_retries=0)
    first = c.responses.create(model=CLAUDE, input="hi")
    assert first.store is False
    with pytest.raises(openai.BadRequestError) as e:
        c.responses.create(model=CLAUDE, input="again", previous_response_id=first.id)
    assert "responses.retention_days is 0" in e.value.body["message"]
