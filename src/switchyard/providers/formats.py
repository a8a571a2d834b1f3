"""The wire formats: name → translator class. The one table a new wire format is registered in.

A new wire format is one package under `providers/` whose class subclasses `providers.base.Provider`, plus one
line here (docs/providers.md walks through it). Everything else derives from this table: the `format:` values
config accepts (`config.ProviderSettings`), the translators the executor holds (`build_providers`), and what an
organisation's key of the format carries (`Provider.credentials`, read by the admin API, the CLI and the keyring).

Classes are named by import path and imported on first use, so a process loads only the formats it builds.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

from .base import Provider
from .credentials import CredentialSpec

FORMATS: dict[str, str] = {
    "openai": "switchyard.providers.openai:OpenAIProvider",
    "azure": "switchyard.providers.azure:AzureProvider",
    "anthropic": "switchyard.providers.anthropic:AnthropicProvider",
    "gemini": "switchyard.providers.gemini:GeminiProvider",
    "bedrock": "switchyard.providers.bedrock:BedrockProvider",
    "vertex": "switchyard.providers.vertex:VertexProvider",
}


_loaded: dict[str, type[Provider]] = {}  # import path → class


def provider_class(name: str) -> type[Provider]:
    """The translator class of wire format `name`; KeyError for a name not in the table."""
    path = FORMATS[name]
    cls = _loaded.get(path)
    if cls is None:
        module, _, attr = path.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise TypeError(f"{path} is not a providers.base.Provider subclass")
        _loaded[path] = cls
    return cls


def build_providers(names: Iterable[str] | None = None) -> dict[str, Provider]:
    """One translator per wire format (all of them by default): what the executor dispatches on."""
    return {name: provider_class(name)() for name in (FORMATS if names is None else names)}


class Translators(dict[str, Provider]):
    """format → translator, each made (its package imported) the first time a request asks for it by subscription
    (`translators[name]`, which `translator` uses): a gateway whose plans name only OpenAI-format endpoints never
    loads Gemini's, Bedrock's or Vertex's translators (~1 MB). A hit is a plain dict lookup; `names` is every
    format it can make (what the planner may choose), while `in`, len() and iteration see those made so far."""

    def __init__(self, names: Iterable[str] = FORMATS) -> None:
        super().__init__()
        self.names = frozenset(names)

    def __missing__(self, name: str) -> Provider:
        if name not in self.names:
            raise KeyError(name)
        made = self[name] = provider_class(name)()
        return made


def available(providers: Mapping[str, Provider]) -> frozenset[str]:
    """The formats `providers` serves: every one a `Translators` can make, else the mapping's keys."""
    return providers.names if isinstance(providers, Translators) else frozenset(providers)


def translator(providers: Mapping[str, Provider], name: str) -> Provider | None:
    """The translator of format `name` (made on first use by a `Translators`), None when there is none."""
    try:
        return providers[name]
    except KeyError:
        return None


def credentials(name: str) -> CredentialSpec:
    """What an organisation's key of wire format `name` carries; the default spec for a name not in the table."""
    return provider_class(name).credentials if name in FORMATS else CredentialSpec()


def key_config_names() -> frozenset[str]:
    """Every visible config name some format's keys accept (the admin API's first check, before the format)."""
    return frozenset().union(*(credentials(name).config for name in FORMATS))


def key_secret_names() -> frozenset[str]:
    """Every config name that is a secret part of some format's credentials (never stored in config)."""
    return frozenset().union(*(credentials(name).secret_fields for name in FORMATS))
