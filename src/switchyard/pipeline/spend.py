"""What a request may spend, checked before any attempt: how many completions it asks for, and which of its
attempts can run under a USD rule. Pure.

`n` and `best_of`. Each multiplies what one call generates and bills (`observe.cost.choices`), so the worst-case
bound of credits and budgets multiplies by the larger of them. Both are capped by `limits.max_n` (default 128,
OpenAI's own maximum for `n`): a larger value, or one that is not a whole number ≥ 1 (`best_of` ≥ 0), is a 400
`invalid_n` before anything is forwarded or reserved.

Unpriced calls under a USD rule. A budget (`usd` key/organisation limit) or a `u=cents` policy can only hold if
every call it admits has a known worst case. An attempt without one (a model the registry does not price, or a
priced one whose output is unbounded: no maximum known and no `max_tokens`) on the gateway's own provider keys
(PTB) is dropped from the plan; when nothing is left the request is a 400 `price_unknown` naming the fix
(`models.deployments` in the configuration, `max_tokens`, or the organisation's own key). Attempts on the
organisation's own keys (BYOK) are kept: their cost is paid to the provider by the organisation, and counted
against the budget whenever the registry knows the price, as for every call. `limits.allow_unpriced: true` keeps
every attempt (an unpriced one then reserves and counts nothing), as before this rule existed.
"""

from __future__ import annotations

from typing import Any

from ..errors import GatewayError
from ..observe.cost import worst_case_usd


def check_choices(body: dict[str, Any], max_n: int) -> None:
    """400 `invalid_n` for an `n` or `best_of` that is not a whole number in range (null and absent are fine)."""
    if body.get("n") is None and body.get("best_of") is None:  # most bodies name neither
        return
    for name, least in (("n", 1), ("best_of", 0)):
        v = body.get(name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < least or v > max_n:
            shown = repr(v) if not isinstance(v, (dict, list)) else type(v).__name__
            raise GatewayError(
                400,
                f"Invalid '{name}': {shown[:40]}. It must be a whole number from {least} to {max_n} "
                "(this gateway's limit, `limits.max_n`).",
                code="invalid_n",
                param=name,
            )


def bounded_attempts(ctx: Any, attempts: list[Any], allow_unpriced: bool) -> tuple[list[Any], float]:
    """(the attempts that may run under a USD rule, the largest worst case among them in USD).

    Raises 400 `price_unknown` when none is left. Attempts without a bound are kept when `allow_unpriced`, or when
    they run on the organisation's own key; they add nothing to the reservation."""
    body = ctx.body or {}
    size = len(ctx.raw_body or b"")
    kept: list[Any] = []
    dropped: list[Any] = []
    worst = 0.0
    for a in attempts:
        w = worst_case_usd(getattr(a, "endpoint", None), body, size)
        if w is None:
            if allow_unpriced or getattr(a, "auth", "ptb") == "byok":
                kept.append(a)
            else:
                dropped.append(a)
            continue
        kept.append(a)
        worst = max(worst, w)
    if not kept and dropped:
        raise _price_unknown(dropped)
    return (kept if dropped else attempts), worst


def _price_unknown(dropped: list[Any]) -> GatewayError:
    a = dropped[0]
    route = a.route
    ep = getattr(a, "endpoint", None)
    if ep is not None and ep.price is not None:  # priced, but nothing bounds the output
        why = (
            f"the maximum output of {route} is unknown, so its cost cannot be bounded. Set max_tokens "
            f'(or max_completion_tokens), or ask the operator to set models.deployments."{route}".max_output'
        )
    else:
        why = (
            f"the gateway does not know the price of {route}, so its cost cannot be counted. Ask the "
            f'operator to price it (models.deployments."{route}".price in the gateway\'s configuration), '
            "or use your organisation's own provider key for it"
        )
    return GatewayError(
        400,
        f"A USD budget or cost limit applies to this request, but {why}.",
        code="price_unknown",
        param="model",
    )
