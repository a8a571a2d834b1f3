"""Access to the recorded provider traffic in ../shared/fixtures/wire (and synthetic cases in tests/fixtures)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SWITCHYARD_SHARED", ROOT.parent / "shared"))
WIRE = SHARED / "fixtures" / "wire"
SYNTHETIC = ROOT / "tests" / "fixtures" / "synthetic"


def exchange(name: str) -> dict[str, Any]:
    """A recorded exchange `{source, request, response}` by relative path, e.g. 'openai/chat_completion.json'."""
    path = WIRE / name
    if not path.exists():
        path = SYNTHETIC / name
    return json.loads(path.read_text())


def stream(name: str) -> bytes:
    path = WIRE / name
    if not path.exists():
        path = SYNTHETIC / name
    return path.read_bytes()


def sse_events(data: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of an SSE body's `data:` lines ([DONE] left out), for reading recordings in tests."""
    out = []
    for block in data.decode().replace("\r\n", "\n").split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                payload = line[5:].strip()
                if payload and payload != "[DONE]":
                    out.append(json.loads(payload))
    return out


def chat_stream_text(name: str) -> str:
    """The text a recorded OpenAI chat stream's content deltas add up to."""
    return "".join(
        choice["delta"].get("content") or ""
        for ev in sse_events(stream(name))
        for choice in ev.get("choices") or ()
    )
