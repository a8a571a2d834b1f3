"""Webhook messages: signatures the reference Standard Webhooks library accepts, the retry schedule the issue
asks for, deterministic sampling, property filters; the alerts' percentile from histogram bins."""

from __future__ import annotations

import itertools

import orjson
import pytest
from standardwebhooks import Webhook

from switchyard.observe import webhook_messages as wm
from switchyard.observe.alerts import p95
from switchyard.stores.rollups import bin_value, latency_bin


def test_signature_verifies_with_the_reference_library_and_only_with_the_right_secret():
    secret = wm.new_secret()
    body = orjson.dumps({"type": "request.completed", "data": {"id": "x"}})
    headers = wm.headers("msg_1", body, wm.secret_key(secret))
    assert Webhook(secret).verify(body, headers)["data"]["id"] == "x"
    with pytest.raises(Exception):  # noqa: B017 - the library raises its own verification error
        Webhook(wm.new_secret()).verify(body, headers)
    with pytest.raises(Exception):  # noqa: B017
        Webhook(secret).verify(body + b" ", headers)
    assert headers["webhook-signature"].startswith("v1,")


def test_retry_schedule_first_within_10s_then_growing_for_at_least_24h():
    delays = [wm.next_delay(n) for n in range(1, wm.MAX_ATTEMPTS)]
    assert delays[0] <= 10 and all(b >= a for a, b in itertools.pairwise(delays))
    assert sum(delays) >= 24 * 3600
    assert wm.next_delay(wm.MAX_ATTEMPTS) is None


def test_sampling_is_deterministic_and_close_to_the_rate():
    picks = [wm.sampled(0.25, "wh", f"req-{i}") for i in range(20_000)]
    assert picks == [wm.sampled(0.25, "wh", f"req-{i}") for i in range(20_000)]
    assert 0.23 < sum(picks) / len(picks) < 0.27
    assert wm.sampled(1.0, "wh", "r") and not wm.sampled(0.0, "wh", "r")
    assert wm.delivery_id("wh", "u") == wm.delivery_id("wh", "u") != wm.delivery_id("wh2", "u")


def test_property_filter():
    assert wm.matches({}, None)
    assert wm.matches({"team": "a"}, {"team": "a", "env": "prod"})
    assert not wm.matches({"team": "a"}, {"team": "b"}) and not wm.matches({"team": "a"}, {})


def test_p95_from_latency_bins():
    bins: dict[int, int] = {}
    for ms in [10.0] * 90 + [1000.0] * 10:
        b = latency_bin(ms)
        bins[b] = bins.get(b, 0) + 1
    assert p95(list(bins.items())) == pytest.approx(bin_value(latency_bin(1000.0)), rel=1e-3)
    assert 900 < p95(list(bins.items())) < 1100
    assert p95([]) == 0.0
