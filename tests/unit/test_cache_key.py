"""Response-cache request parsing and key derivation (Helicone §6.2 semantics, Switchyard's departures)."""

from __future__ import annotations

import pytest

from switchyard.errors import GatewayError
from switchyard.pipeline.caching import (
    DEFAULT_TTL_S,
    MAX_TTL_S,
    CacheEntry,
    CacheRequest,
    cache_key,
    parse_cache_request,
    slot_keys,
)

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}
ON = CacheRequest(read=True, save=True)


def parse(**headers: str) -> CacheRequest | None:
    return parse_cache_request({k.replace("_", "-").lower(): v for k, v in headers.items()})


def bad(**headers: str) -> GatewayError:
    with pytest.raises(GatewayError) as e:
        parse(**headers)
    assert e.value.status == 400
    return e.value


# -- headers ------------------------------------------------------------------------------------------


def test_caching_is_off_without_headers_or_with_false():
    assert parse() is None
    assert parse(Helicone_Cache_Enabled="false") is None
    assert parse(Helicone_Cache_Enabled="1") is None
    # an uncached request's Cache-Control is none of our business
    assert parse(Cache_Control="max-age=abc") is None


@pytest.mark.parametrize("value", ["true", "TRUE", "True", " true "])
def test_enabled_is_case_insensitive_and_turns_on_both_directions(value):
    req = parse(Helicone_Cache_Enabled=value)
    assert req == CacheRequest(read=True, save=True, ttl_s=DEFAULT_TTL_S, bucket_size=1)


def test_read_and_save_headers_enable_one_direction():
    assert parse(Helicone_Cache_Read="true") == CacheRequest(read=True, save=False)
    assert parse(Helicone_Cache_Save="true") == CacheRequest(read=False, save=True)


def test_default_ttl_is_seven_days():
    assert parse(Helicone_Cache_Enabled="true").ttl_s == 7 * 24 * 3600


@pytest.mark.parametrize(
    ("cache_control", "ttl"),
    [
        ("max-age=60", 60),
        ("public, max-age=3600", 3600),
        ("s-maxage=120, max-age=60", 120),  # s-maxage wins whatever the order
        ("max-age=60, s-maxage=120", 120),
        ('max-age="90"', 90),
        ("MAX-AGE=30", 30),
        ("no-cache", DEFAULT_TTL_S),
        ("max-age=999999999", MAX_TTL_S),  # capped at 365 days
    ],
)
def test_cache_control_sets_the_ttl(cache_control, ttl):
    assert parse(Helicone_Cache_Enabled="true", Cache_Control=cache_control).ttl_s == ttl
    assert MAX_TTL_S == 365 * 24 * 3600


@pytest.mark.parametrize(
    "cache_control", ["max-age=abc", "max-age=-5", "max-age=0", "s-maxage=1.5", "max-age="]
)
def test_bad_age_is_a_400_naming_the_header(cache_control):
    e = bad(Helicone_Cache_Enabled="true", Cache_Control=cache_control)
    assert "Cache-Control" in e.message and e.code == "invalid_cache_header"


@pytest.mark.parametrize(("value", "size"), [("1", 1), ("2", 2), (" 20 ", 20), ("", 1)])
def test_bucket_size(value, size):
    assert parse(Helicone_Cache_Enabled="true", Helicone_Cache_Bucket_Max_Size=value).bucket_size == size


@pytest.mark.parametrize("value", ["0", "21", "100", "abc", "-1", "2.5"])
def test_bad_bucket_size_is_a_400_naming_the_header(value):
    e = bad(Helicone_Cache_Enabled="true", Helicone_Cache_Bucket_Max_Size=value)
    assert "Helicone-Cache-Bucket-Max-Size" in e.message and repr(value) in e.message
    assert b"Helicone-Cache-Bucket-Max-Size" in e.openai_body()


def test_a_huge_bad_value_is_not_echoed_whole():
    e = bad(Helicone_Cache_Enabled="true", Helicone_Cache_Bucket_Max_Size="x" * 5000)
    assert len(e.message) < 300


def test_seed_and_ignore_keys_are_parsed():
    req = parse(
        Helicone_Cache_Enabled="true",
        Helicone_Cache_Seed="s1",
        Helicone_Cache_Ignore_Keys=" user , metadata,,",
    )
    assert req.seed == "s1"
    assert req.ignore_keys == frozenset({"user", "metadata"})


# -- key ----------------------------------------------------------------------------------------------


def test_key_is_stable_and_independent_of_field_order():
    shuffled = {"temperature": 0.2, "messages": [{"content": "hi", "role": "user"}], "model": "gpt-4o-mini"}
    k = cache_key("org1", "chat", BODY, ON)
    assert k == cache_key("org1", "chat", shuffled, ON)
    assert len(k) == 64 and int(k, 16) >= 0


def test_key_changes_with_body_route_kind_stream_and_org():
    k = cache_key("org1", "chat", BODY, ON)
    assert cache_key("org1", "chat", {**BODY, "temperature": 0.3}, ON) != k
    assert cache_key("org1", "completions", BODY, ON) != k
    assert cache_key("org1", "chat", {**BODY, "stream": True}, ON) != k
    assert cache_key("org2", "chat", BODY, ON) != k, "one organisation must never see another's entries"


def test_seed_namespaces_the_key():
    k = cache_key("org1", "chat", BODY, ON)
    seeded = CacheRequest(read=True, save=True, seed="a")
    assert cache_key("org1", "chat", BODY, seeded) != k
    assert cache_key("org1", "chat", BODY, seeded) != cache_key(
        "org1", "chat", BODY, CacheRequest(True, True, seed="b")
    )
    # an empty seed is no seed
    assert parse(Helicone_Cache_Enabled="true", Helicone_Cache_Seed="").seed is None


def test_ttl_and_bucket_size_do_not_change_the_key():
    k = cache_key("org1", "chat", BODY, ON)
    assert cache_key("org1", "chat", BODY, CacheRequest(True, False, ttl_s=60, bucket_size=5)) == k


def test_ignore_keys_several_at_once():
    """Helicone #5768: a comma-separated list with more than one key was silently ignored there."""
    req = parse(Helicone_Cache_Enabled="true", Helicone_Cache_Ignore_Keys="user,prompt_cache_key")
    a = {**BODY, "user": "alice", "prompt_cache_key": "p1"}
    b = {**BODY, "user": "bob", "prompt_cache_key": "p2"}
    assert (
        cache_key("org1", "chat", a, req)
        == cache_key("org1", "chat", b, req)
        == cache_key("org1", "chat", BODY, req)
    )
    assert cache_key("org1", "chat", a, ON) != cache_key("org1", "chat", b, ON)
    only_user = parse(Helicone_Cache_Enabled="true", Helicone_Cache_Ignore_Keys="user")
    assert cache_key("org1", "chat", a, only_user) != cache_key("org1", "chat", b, only_user)


def test_ignore_keys_are_top_level_only_and_leave_the_body_untouched():
    req = parse(Helicone_Cache_Enabled="true", Helicone_Cache_Ignore_Keys="role")
    body = {**BODY}
    assert cache_key("org1", "chat", body, req) == cache_key("org1", "chat", BODY, ON)  # nested "role" stays
    assert body == BODY


def test_slot_keys_are_one_per_bucket_index():
    assert slot_keys("abc", 3) == ["abc:0", "abc:1", "abc:2"]


# -- stored value -------------------------------------------------------------------------------------


def test_entry_round_trips_bytes_exactly():
    sse = b'data: {"a":1}\n\ndata: [DONE]\n\n'
    entry = CacheEntry(
        body=sse,
        content_type="text/event-stream",
        provider="openai",
        model="gpt-4o-mini",
        usage={"prompt_tokens": 3, "completion_tokens": 4},
        cost_usd=1.5e-6,
        created_at=1700000000000,
    )
    assert CacheEntry.decode(entry.encode()) == entry


@pytest.mark.parametrize(
    "data", [b"", b"no newline", b"not json\nbody", b'{"provider":"x"}\nbody', b"[1]\nbody"]
)
def test_unreadable_values_decode_to_none(data):
    assert CacheEntry.decode(data) is None
