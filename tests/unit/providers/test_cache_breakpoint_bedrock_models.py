"""Automatic cache_control is not added for the Claude models Bedrock refuses a cache point on (review finding C1,
docs/security.md §9).

Bedrock's prompt caching covers Claude 3.5 Haiku, 3.5 Sonnet v2, 3.7 Sonnet and every later Claude; the older ones
(Claude 2 and Instant, Claude 3 Haiku/Sonnet/Opus, Claude 3.5 Sonnet v1) answer a `cachePoint` with a 400 ("You
invoked an unsupported model, or your request did not allow prompt caching"). With `auto_cache_control` on for
Bedrock, every request to those models failed — the registry routes `claude-3-haiku` and `claude-3-opus` there."""

from __future__ import annotations

import pytest

from switchyard.providers.anthropic.cache_breakpoint import applies, with_breakpoint
from switchyard.providers.base import Target

ON = {"auto_cache_control": True, "region": "us-west-2"}


def bedrock(model: str) -> Target:
    return Target("bedrock", model, "bedrock", "https://bedrock-runtime.{region}.amazonaws.com", config=ON)


@pytest.mark.parametrize(
    "model",
    [
        "anthropic.claude-3-haiku-20240307-v1:0",
        "anthropic.claude-3-opus-20240229-v1:0",
        "anthropic.claude-3-sonnet-20240229-v1:0",
        "us.anthropic.claude-3-haiku-20240307-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "anthropic.claude-v2:1",
        "anthropic.claude-instant-v1",
    ],
)
def test_no_cache_point_for_a_claude_bedrock_cannot_cache(model: str) -> None:
    body = {"messages": [{"role": "user", "content": "hello"}]}
    assert not applies(bedrock(model))
    assert with_breakpoint(body, "chat", bedrock(model), [])[0] is body


@pytest.mark.parametrize(
    "model",
    [
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "global.anthropic.claude-haiku-4-5-20251001-v1:0",
        "anthropic.claude-opus-4-6-v1",
    ],
)
def test_the_claude_models_bedrock_caches_still_get_one(model: str) -> None:
    assert applies(bedrock(model))
