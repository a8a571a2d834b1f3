"""Wire format name → translator. A new wire format is one package under `providers/` and one line here."""

from __future__ import annotations

from typing import Any

from .anthropic import AnthropicProvider
from .azure import AzureProvider
from .bedrock import BedrockProvider
from .gemini import GeminiProvider
from .openai import OpenAIProvider
from .vertex import VertexProvider


def build_providers() -> dict[str, Any]:
    return {
        "openai": OpenAIProvider(),
        "azure": AzureProvider(),
        "anthropic": AnthropicProvider(),
        "gemini": GeminiProvider(),
        "bedrock": BedrockProvider(),
        "vertex": VertexProvider(),
    }
