"""Modules imported on first use instead of when a test module is collected.

Every pytest-xdist worker collects (imports) every test module, though only one runs a given module's tests; a
client library that takes seconds to import (LiteLLM, LangChain, the OpenAI Agents SDK, LlamaIndex) is paid by
every worker unless its test module defers it. `deferred("litellm")` stands for the module and imports it at the
first public attribute read (`litellm.completion`); private and dunder names, which pytest probes while
collecting, never import it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class deferred:  # used like a module
    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<deferred module {self._name}{'' if self._module is None else ' (imported)'}>"
