"""Golden translator tests compare whole outputs: Gemini's random per-response tool-call id prefix is fixed to ''
here (so ids read `call_0`, `call_1`, ...); tests/unit/providers/test_gemini_call_ids.py (marked real_call_ids) checks the real ids."""

from __future__ import annotations

import pytest

from switchyard.providers.gemini import response as gemini_response


@pytest.fixture(autouse=True)
def _plain_gemini_call_ids(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "real_call_ids" not in request.keywords:
        monkeypatch.setattr(gemini_response, "new_prefix", lambda: "")
