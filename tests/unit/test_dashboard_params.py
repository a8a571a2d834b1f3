"""Query strings of the dashboard's pages → time ranges and request filters (and back)."""

from __future__ import annotations

from dataclasses import replace

from starlette.datastructures import QueryParams

from switchyard.dashboard.pages_account import safe_next
from switchyard.dashboard.params import request_filters, time_range

NOW = 1_760_000_000_000


def test_presets_custom_ranges_and_fallbacks():
    assert time_range(QueryParams("range=1h"), now_ms=NOW).rng.start_ms == NOW - 3_600_000
    c = time_range(QueryParams("range=custom&from=2025-01-01T00:00&to=2025-01-02T12:30"), now_ms=NOW)
    assert (c.key, c.rng.start_ms, c.rng.end_ms) == ("custom", 1_735_689_600_000, 1_735_821_000_000)
    assert c.query == {"range": "custom", "from": "2025-01-01T00:00", "to": "2025-01-02T12:30"}
    bad = time_range(QueryParams("range=custom&from=2025-01-02T00:00&to=2025-01-01T00:00"), now_ms=NOW)
    assert bad.key == "24h" and bad.problem
    assert time_range(QueryParams("range=<script>"), now_ms=NOW).key == "24h"


def test_request_filters_round_trip_through_the_query_string():
    q = QueryParams(
        [
            ("range", "7d"),
            ("model", "gpt-4o"),
            ("property", "env=prod"),
            ("property", "team=a=b"),
            ("cache", "hit"),
            ("status", "error"),
            ("feedback", "good"),
        ]
    )
    f = request_filters(q)
    rf = f.to_filter()
    assert rf.properties == (("env", "prod"), ("team", "a=b"))
    assert (rf.model, rf.cache_hit, rf.status, rf.feedback) == ("gpt-4o", True, "error", "good")
    again = request_filters(QueryParams(f.query())).to_filter()
    assert replace(again, start_ms=None, end_ms=None) == replace(rf, start_ms=None, end_ms=None)
    assert "cursor=abc" in f.query(cursor="abc")
    assert request_filters(QueryParams("property=novalue")).problem


def test_redirects_after_a_form_stay_on_the_dashboard():
    assert safe_next("/dashboard/requests?x=1") == "/dashboard/requests?x=1"
    for evil in ("https://evil.example/", "//evil.example/dashboard", "/dashboard\\@evil", None, ""):
        assert safe_next(evil) == "/dashboard"
