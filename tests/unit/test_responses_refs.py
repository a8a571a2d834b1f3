"""Stored-state references in a Responses body (formats/openai_responses_refs.py): what is named, how the whole
conversation is rebuilt, and OpenAI's errors for what is not found."""

from __future__ import annotations

import pytest

from switchyard.errors import GatewayError
from switchyard.formats.openai_responses import ResponsesSurface
from switchyard.formats.openai_responses_refs import conversation, expand, references

USER = {"type": "message", "role": "user", "content": "Capital of France?"}
CALL = {
    "id": "fc_1",
    "type": "function_call",
    "call_id": "toolu_1",
    "name": "get_capital",
    "arguments": '{"country":"France"}',
    "status": "completed",
}
REASONING = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [{"type": "summary_text", "text": "Think."}],
    "encrypted_content": "switchyard:thinking:SIG",
}
OUTPUT = {"type": "function_call_output", "call_id": "toolu_1", "output": "Paris"}


def test_references_lists_previous_and_item_ids():
    body = {"previous_response_id": "resp_1", "input": [USER, {"type": "item_reference", "id": "fc_1"}]}
    assert references(body) == ("resp_1", ["fc_1"])
    assert references({"input": "hi"}) == (None, [])


@pytest.mark.parametrize(
    "body, param",
    [
        ({"previous_response_id": 5, "input": "x"}, "previous_response_id"),
        ({"input": [{"type": "item_reference"}]}, "input[0].id"),
        ({"input": [USER, {"type": "item_reference", "id": ""}]}, "input[1].id"),
    ],
)
def test_malformed_references_are_400(body, param):
    with pytest.raises(GatewayError) as e:
        references(body)
    assert (e.value.status, e.value.param) == (400, param)


def test_expand_puts_the_previous_conversation_first_and_replaces_references_in_place():
    found = {
        "resp_1": ("response", {"input": [USER], "output": [REASONING, CALL]}),
        "rs_1": ("item", REASONING),
        "fc_1": ("item", CALL),
    }
    assert expand({"previous_response_id": "resp_1", "input": [OUTPUT]}, found) == [
        USER,
        REASONING,
        CALL,
        OUTPUT,
    ]
    refs = [USER, {"type": "item_reference", "id": "rs_1"}, {"type": "item_reference", "id": "fc_1"}, OUTPUT]
    assert expand({"input": refs}, found) == [USER, REASONING, CALL, OUTPUT]


def test_an_item_id_is_not_a_response_id_and_back():
    found = {"resp_1": ("response", {"input": [], "output": []}), "fc_1": ("item", CALL)}
    with pytest.raises(GatewayError) as e:
        expand({"previous_response_id": "fc_1", "input": "x"}, found)
    assert (e.value.status, e.value.code, e.value.param) == (
        400,
        "previous_response_not_found",
        "previous_response_id",
    )
    with pytest.raises(GatewayError) as e:
        expand({"input": [{"type": "item_reference", "id": "resp_1"}]}, found)
    assert (e.value.status, e.value.param) == (404, "input") and "'resp_1'" in e.value.message


def test_conversation_keeps_the_expanded_input_or_the_input_as_items():
    assert conversation(None, {"input": "hi"}, [CALL]) == {
        "input": [{"type": "message", "role": "user", "content": "hi"}],
        "output": [CALL],
    }
    assert conversation([USER, CALL, OUTPUT], {"input": [OUTPUT]}, []) == {
        "input": [USER, CALL, OUTPUT],
        "output": [],
    }


def test_the_surface_translates_the_expanded_input_with_the_signed_thinking():
    s = ResponsesSurface()
    s.resolved = [USER, REASONING, CALL, OUTPUT]
    chat = s.request({"model": "claude-sonnet-4", "previous_response_id": "resp_1", "input": [OUTPUT]})
    assert [m["role"] for m in chat["messages"]] == ["user", "assistant", "tool"]
    assistant = chat["messages"][1]
    assert assistant["tool_calls"][0]["id"] == "toolu_1"
    assert assistant["thinking_blocks"] == [{"type": "thinking", "thinking": "Think.", "signature": "SIG"}]
    assert s.body["previous_response_id"] == "resp_1"  # the caller's body is what the response echoes
