"""Usage normalisation and cost. Pure, but for the clock that picks the price in force: a scheduled change (registry
`price_changes`) and a time-of-day price (`price_windows`, UTC).

Usage is read in OpenAI semantics: `prompt_tokens` includes cached and cache-written tokens, which are
detailed in `prompt_tokens_details`. Prices are USD per 1M tokens (registry).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..providers.registry import Endpoint, Price, PriceWindow

DAY_MS = 86_400_000


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


def _int(v: Any) -> int:
    return v if isinstance(v, int) and v > 0 else 0


def read_usage(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    u = Usage(
        prompt_tokens=_int(usage.get("prompt_tokens", usage.get("input_tokens"))),
        completion_tokens=_int(usage.get("completion_tokens", usage.get("output_tokens"))),
    )
    u.total_tokens = _int(usage.get("total_tokens")) or u.prompt_tokens + u.completion_tokens
    pd = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
    if isinstance(pd, dict):
        u.cached_tokens = _int(pd.get("cached_tokens"))
        u.cache_write_tokens = _int(pd.get("cache_write_tokens")) or _int(pd.get("cache_creation_tokens"))
    cd = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
    if isinstance(cd, dict):
        u.reasoning_tokens = _int(cd.get("reasoning_tokens"))
    return u


def _in_force(
    endpoint: Endpoint, now_ms: int
) -> tuple[Price | None, tuple[Price, ...], tuple[PriceWindow, ...]]:
    """(price, tiers, time-of-day windows) of the day `now_ms` falls on: a scheduled change the registry loaded
    before it came into force replaces all three from its date, in a process that runs across it."""
    price, tiers, windows = endpoint.price, endpoint.tiers, endpoint.price_windows
    for change in endpoint.price_changes:  # in date order
        if change.from_ms <= now_ms:
            price, tiers, windows = change.price, change.tiers, change.windows
    return price, tiers, windows


def rates_at(endpoint: Endpoint, at_ms: int) -> tuple[Price | None, tuple[Price, ...]]:
    """(price, tiers) in force at `at_ms`: the day's (`price_changes`), else those of the time-of-day window the
    instant falls in (UTC; the last listed wins, as in genai-prices)."""
    price, tiers, windows = _in_force(endpoint, at_ms)
    ms_of_day = at_ms % DAY_MS
    for window in windows:
        if window.active(ms_of_day):
            price, tiers = window.price, window.tiers
    return price, tiers


def price_for(endpoint: Endpoint, prompt_tokens: int, at_ms: int | None = None) -> Price | None:
    """The price of a call with `prompt_tokens` at `at_ms` (now): `rates_at`, then the prompt-size tier."""
    now = int(time.time() * 1000) if at_ms is None else at_ms
    return _tiered(*rates_at(endpoint, now), prompt_tokens)


def _tiered(price: Price | None, tiers: tuple[Price, ...], prompt_tokens: int) -> Price | None:
    for tier in tiers:  # tiers are listed in ascending `above`
        if tier.above is not None and prompt_tokens > tier.above:
            price = tier
    return price


def price_bound(endpoint: Endpoint, prompt_tokens: int, at_ms: int | None = None) -> Price | None:
    """The highest price a call with `prompt_tokens` started at `at_ms` (now) can be charged at, key by key: a call
    is priced when it ends (`price_for` at that time), so every time-of-day window of the day counts, and so do the
    prices of a change coming into force within a day (a call running across midnight). None when a price that can
    apply is unknown."""
    now = int(time.time() * 1000) if at_ms is None else at_ms
    candidates: list[Price | None] = []
    for day_ms in (now, now + DAY_MS):
        price, tiers, windows = _in_force(endpoint, day_ms)
        candidates.append(_tiered(price, tiers, prompt_tokens))
        candidates.extend(_tiered(w.price, w.tiers, prompt_tokens) for w in windows)
    if any(p is None for p in candidates):
        return None
    prices = [p for p in candidates if p is not None]
    return Price(
        input=max(p.input for p in prices),
        output=max(p.output for p in prices),
        cached_input=_top(p.cached_input for p in prices),
        cache_write=_top(p.cache_write for p in prices),
        cache_write_1h=_top(p.cache_write_1h for p in prices),
    )


def _top(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def cost_usd(usage: Usage, endpoint: Endpoint | None, at_ms: int | None = None) -> float | None:
    """Cost of one call (at `at_ms`, now by default), or None when the price is unknown (never guessed)."""
    if endpoint is None:
        return None
    price = price_for(endpoint, usage.prompt_tokens, at_ms)
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    fresh = usage.prompt_tokens - cached - written
    cached_price = price.cached_input if price.cached_input is not None else price.input
    write_price = price.cache_write if price.cache_write is not None else price.input
    total = (
        fresh * price.input
        + cached * cached_price
        + written * write_price
        + usage.completion_tokens * price.output
    )
    return round(total / 1_000_000, 12)


def _max_output(body: dict[str, Any], endpoint: Endpoint) -> int | None:
    cap = endpoint.max_output or endpoint.context
    asked = None
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        v = body.get(name)
        if isinstance(v, int) and v > 0:
            asked = v
            break
    if asked is None:
        return cap
    return min(asked, cap) if cap else asked


def choices(body: dict[str, Any]) -> int:
    """How many completions one call generates (and bills): `n` (chat, completions), or `best_of` (completions:
    generated server-side, billed, and only the best `n` returned), whichever is larger; 1 when absent. The
    values are validated before this is asked (`pipeline/spend.check_choices`); anything else counts as 1."""
    k = 1
    for name in ("n", "best_of"):
        v = body.get(name)
        if isinstance(v, int) and not isinstance(v, bool) and v > k:
            k = v
    return k


def worst_case_usd(endpoint: Endpoint | None, body: dict[str, Any], body_bytes: int) -> float | None:
    """An upper bound on what one call can cost, for credit and budget reservations; None when unknown.

    Input: the request cannot carry more tokens than the model's context window, and a text token is at least
    one byte of the JSON body; images are billed by size, not bytes, so with an image part the context window
    is the bound. Output: the caller's max tokens, capped by the model's maximum output (else its context), for
    each of the `n` (or `best_of`) completions; the prompt is billed once however many there are (OpenAI:
    "charged based on the number of generated tokens across all of the choices"). Rates: the highest that can
    apply to a call started now (`price_bound`: DeepSeek's peak hours cost twice its standard price).
    Tighter than Helicone's `context × input + max_output × output`, and still never below the real cost.
    """
    if endpoint is None or endpoint.price is None:
        return None
    context = endpoint.context
    has_media = _has_media(body)
    if context is None:
        if has_media:
            return None
        prompt = body_bytes
    else:
        prompt = context if has_media else min(context, body_bytes)
    out = _max_output(body, endpoint)
    if out is None:
        return None
    price = price_bound(endpoint, prompt)
    if price is None:
        return None
    write = price.cache_write if price.cache_write is not None else price.input
    top_input = max(price.input, write)
    return (prompt * top_input + choices(body) * out * price.output) / 1_000_000


def _has_media(body: dict[str, Any]) -> bool:
    msgs = body.get("messages") or body.get("input")
    if not isinstance(msgs, list):
        return False
    for m in msgs:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") in (
                    "image_url",
                    "image",
                    "input_image",
                    "document",
                    "input_file",
                    "file",
                    "input_audio",
                    "audio",
                ):
                    return True
    return False
