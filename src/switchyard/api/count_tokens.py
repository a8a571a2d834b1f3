"""`POST /v1/messages/count_tokens` (Anthropic's token counting): a proxy route like the others, so the request goes
through `pipeline/handle.py` — authentication, body limits, the record, errors in Anthropic's shape — with a spec
that asks the plan for a count instead of an answer (`pipeline/count_tokens.py` says who counts).

What a count skips, on purpose: rate limits and budgets (counting costs nothing upstream), the response cache (a
count is cheap to ask again) and the token-limit handler (it would change what is counted).
"""

from __future__ import annotations

from typing import Any

from ..errors import bad_request
from .proxy import ProxyRoute
from .surfaces import SurfaceSpec


class CountTokensSurface:
    """No codec: the answer is `{"input_tokens": N}` as the upstream counted it, whatever the Claude host."""

    object_name = "count"
    kind = "count_tokens"
    upstream_path = "messages/count_tokens"


def _check_count(body: dict[str, Any], surface: Any) -> dict[str, Any]:
    """Only what every Claude host needs; the rest is the counting upstream's to refuse (its 400 is passed on)."""
    if not isinstance(body.get("messages"), list):
        raise bad_request("messages: Field required (a list of messages).", param="messages")
    return body


_SURFACE = CountTokensSurface()
COUNT_TOKENS = SurfaceSpec(
    make=lambda h: _SURFACE, check=_check_count, anthropic_errors=True, counts_tokens=True
)


class CountTokensRoute(ProxyRoute):
    """The count route: errors in Anthropic's shape (also the gateway's 503 when it is at its in-flight limit)."""

    def __init__(self, deps: Any) -> None:
        super().__init__(deps, COUNT_TOKENS)
