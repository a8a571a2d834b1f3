"""models.aliases: operator names for any model string, expanded by the planner before Helicone's grammar."""

from __future__ import annotations

import pydantic
import pytest

from switchyard.config import ModelSettings, Settings
from switchyard.errors import GatewayError
from switchyard.pipeline.aliases import expand
from switchyard.pipeline.plan import Planner, restrict
from switchyard.providers.registry import load_registry

ALIASES = {"my-gpt": "gpt-4o-mini/openai", "smart": "claude-sonnet-4/anthropic, gpt-4o/openai"}


def planner() -> Planner:
    settings = Settings.model_validate(
        {"home": "/tmp/switchyard-test-aliases", "models": {"aliases": ALIASES}}
    )
    reg = load_registry(settings, env={"OPENAI_API_KEY": "k1", "ANTHROPIC_API_KEY": "k2"})
    return Planner(reg, aliases=settings.models.aliases)


def test_expand_replaces_whole_items_only():
    assert expand("my-gpt", ALIASES) == "gpt-4o-mini/openai"
    assert expand(" my-gpt , gpt-4o", ALIASES) == "gpt-4o-mini/openai, gpt-4o"
    assert expand("my-gpt/openai", ALIASES) == "my-gpt/openai"  # a provider suffix makes it another name
    assert expand("gpt-4o", {}) == "gpt-4o"


def test_alias_routes_to_its_target_and_chains_expand_in_place():
    p = planner()
    assert [a.route for a in p.plan("my-gpt")] == ["gpt-4o-mini/openai"]
    assert [a.route for a in p.plan("smart")] == ["claude-sonnet-4/anthropic", "gpt-4o/openai"]
    chain = p.plan("my-gpt, smart")
    assert [a.route for a in chain] == ["gpt-4o-mini/openai", "claude-sonnet-4/anthropic", "gpt-4o/openai"]
    assert [a.group for a in chain] == [0, 1, 2]


def test_without_aliases_the_name_is_unknown():
    settings = Settings.model_validate({"home": "/tmp/switchyard-test-aliases"})
    reg = load_registry(settings, env={"OPENAI_API_KEY": "k1"})
    with pytest.raises(GatewayError) as info:
        Planner(reg).plan("my-gpt")
    assert info.value.code == "model_not_found"


def test_a_key_allow_list_applies_to_the_target_not_the_alias_name():
    p = planner()
    assert restrict(p.plan("my-gpt"), ("gpt-4o-mini",))
    with pytest.raises(GatewayError) as info:
        restrict(p.plan("my-gpt"), ("my-gpt",))
    assert info.value.status == 403


@pytest.mark.parametrize(
    "aliases",
    [{"a": "b", "b": "gpt-4o"}, {"x,y": "gpt-4o"}, {"a": " "}, {"!openai": "gpt-4o"}, {" a": "gpt-4o"}],
)
def test_bad_aliases_are_refused_when_the_config_loads(aliases):
    with pytest.raises(pydantic.ValidationError):
        ModelSettings(aliases=aliases)
