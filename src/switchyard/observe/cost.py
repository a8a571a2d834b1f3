"""Usage normalisation and cost. Pure.

Usage is read in OpenAI semantics: `prompt_tokens` includes cached and cache-written tokens, which are
detailed in `prompt_tokens_details`. Prices are USD per 1M tokens (registry).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..providers.registry import Endpoint, Price


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


def price_for(endpoint: Endpoint, prompt_tokens: int) -> Price | None:
    price = endpoint.price
    for tier in endpoint.tiers:  # tiers are listed in ascending `above`
        if tier.above is not None and prompt_tokens > tier.above:
            price = tier
    return price


def cost_usd(usage: Usage, endpoint: Endpoint | None) -> float | None:
    """Cost of one call, or None when the price is unknown (never guessed)."""
    if endpoint is None:
        return None
    price = price_for(endpoint, usage.prompt_tokens)
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    fresh = usage.prompt_tokens - cached - written
    cached_price = price.cached_input if price.cached_input is not None else price.input
    write_price = price.cache_write if price.cache_write is not None else price.input
    total = fresh * price.input + cached * cached_price + written * write_price + usage.completion_tokens * price.output
    return round(total / 1_000_000, 12)
