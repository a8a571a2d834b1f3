"""Wire format name → translator. A new wire format is one package under `providers/` and one line here."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from .openai import OpenAIProvider

log = logging.getLogger("switchyard.providers")

# format → (module, class); optional formats load if their package is present.
_OPTIONAL = {
    "anthropic": ("switchyard.providers.anthropic", "AnthropicProvider"),
    "gemini": ("switchyard.providers.gemini", "GeminiProvider"),
}


def build_providers() -> dict[str, Any]:
    providers: dict[str, Any] = {"openai": OpenAIProvider()}
    for fmt, (module, cls) in _OPTIONAL.items():
        try:
            providers[fmt] = getattr(importlib.import_module(module), cls)()
        except ImportError as e:
            log.debug("wire format %s not available: %s", fmt, e)
    return providers
