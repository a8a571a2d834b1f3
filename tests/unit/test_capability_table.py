"""docs/capabilities.md is generated from the registry; it must say what the registry says."""

from __future__ import annotations

from pathlib import Path

from switchyard.config import Settings
from switchyard.providers.capability_table import render
from switchyard.providers.registry import load_registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "capabilities.md"


def test_committed_page_matches_the_registry():
    expected = render(load_registry(Settings(), env={}))
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/capabilities.md is stale: run `.venv/bin/python -m switchyard.providers.capability_table "
        "> docs/capabilities.md`"
    )


def test_table_names_what_the_gateway_does():
    text = render(load_registry(Settings(), env={}))
    assert (
        "| `claude-sonnet-4` | 64,000 | `claude` | anthropic, bedrock, vertex: forced tool; openrouter: passed through |"
        in text
    )
    assert (
        "anthropic, bedrock: native; vertex: forced tool" in text
    )  # Claude 4.5+: native where the host has it
    assert "`max_tokens` sent as `max_completion_tokens`" in text
    assert "| `gemini-2.5-flash` |" in text and "responseSchema" in text
