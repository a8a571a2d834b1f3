"""Server state in a Responses request (`previous_response_id`, `item_reference` input items), for the bridge.

Pure: `references` says which stored ids a body needs, `expand` builds the whole conversation from what was found,
`conversation` is what is kept of an answered request. The store and its look-ups are `pipeline/responses_state`.

As OpenAI defines it: `previous_response_id` continues after that response — its input (earlier turns already
expanded) and its output come before this request's input; its `instructions` are not carried over. An
`item_reference` stands for the stored item with that id, in place. Errors are OpenAI's: an unknown previous
response is 400 `previous_response_not_found` (param `previous_response_id`), an unknown item 404 naming it
(param `input`).
"""

from __future__ import annotations

from typing import Any

from ..errors import GatewayError

RESPONSE = "response"
ITEM = "item"


def references(body: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(previous_response_id, ids of item_reference items) of a Responses body; ([], None) for a stateless one."""
    prev = body.get("previous_response_id")
    if prev is not None and not isinstance(prev, str):
        raise GatewayError(
            400,
            "Invalid type for 'previous_response_id': expected a string.",
            code="invalid_type",
            param="previous_response_id",
        )
    refs: list[str] = []
    inp = body.get("input")
    if isinstance(inp, list):
        for i, item in enumerate(inp):
            if isinstance(item, dict) and item.get("type") == "item_reference":
                rid = item.get("id")
                if not isinstance(rid, str) or not rid:
                    raise GatewayError(
                        400,
                        "item_reference items need an 'id' (a string).",
                        code="invalid_value",
                        param=f"input[{i}].id",
                    )
                refs.append(rid)
    return prev or None, refs


def previous_not_found(rid: str) -> GatewayError:
    return GatewayError(
        400,
        f"Previous response with id '{rid}' not found.",
        code="previous_response_not_found",
        param="previous_response_id",
    )


def item_not_found(iid: str) -> GatewayError:
    return GatewayError(
        404,
        f"Item with id '{iid}' not found. Items are kept only for responses made with "
        "`store` on (the default), for the gateway's retention period, and only within the "
        "organisation that made them.",
        type="invalid_request_error",
        param="input",
    )


def input_items(inp: Any) -> list[Any]:
    """The request's `input` as a list of items (a string is one user message)."""
    if isinstance(inp, str):
        return [{"type": "message", "role": "user", "content": inp}]
    return list(inp) if isinstance(inp, list) else []


def expand(body: dict[str, Any], found: dict[str, tuple[str, Any]]) -> list[Any]:
    """The whole input for the bridge: the previous response's conversation, then this input with every
    item_reference replaced by its stored item. `found` maps id → (kind, data) for what the store had."""
    prev, _ = references(body)
    out: list[Any] = []
    if prev is not None:
        kind, data = found.get(prev, ("", None))
        if kind != RESPONSE:
            raise previous_not_found(prev)
        out += data.get("input") or []
        out += data.get("output") or []
    for item in input_items(body.get("input")):
        if isinstance(item, dict) and item.get("type") == "item_reference":
            kind, data = found.get(item["id"], ("", None))
            if kind != ITEM:
                raise item_not_found(item["id"])
            out.append(data)
        else:
            out.append(item)
    return out


def conversation(expanded: list[Any] | None, body: dict[str, Any], output: list[Any]) -> dict[str, Any]:
    """What is kept of an answered response: the input it was answered from (expanded) and its output."""
    return {"input": expanded if expanded is not None else input_items(body.get("input")), "output": output}
