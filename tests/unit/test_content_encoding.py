"""Request body codings (api/content_encoding.py): inflation under the limit, refusals that name the coding."""

from __future__ import annotations

import gzip
import zlib

import pytest

from switchyard.api.content_encoding import check, codings, inflate
from switchyard.errors import GatewayError


def test_codings_reads_every_header_in_order_and_skips_identity():
    raw = [
        (b"content-type", b"application/json"),
        (b"content-encoding", b"GZIP, identity"),
        (b"content-encoding", b" deflate "),
    ]
    assert codings(raw) == ["gzip", "deflate"]
    assert codings([(b"content-encoding", b"identity")]) == []


def test_check_refuses_unknown_codings_with_415():
    check(["gzip", "deflate", "x-gzip"])
    with pytest.raises(GatewayError) as e:
        check(["gzip", "br"])
    assert e.value.status == 415 and "'br'" in e.value.message


def test_inflate_at_the_limit_and_one_byte_over():
    data = b"a" * 1000
    assert inflate(gzip.compress(data), ["gzip"], 1000) == data
    with pytest.raises(GatewayError) as e:
        inflate(gzip.compress(data), ["gzip"], 999)
    assert e.value.status == 413


def test_concatenated_gzip_members_count_together_against_the_limit():
    two = gzip.compress(b"a" * 600) + gzip.compress(b"b" * 600)
    assert inflate(two, ["gzip"], 1200) == b"a" * 600 + b"b" * 600
    with pytest.raises(GatewayError) as e:
        inflate(two, ["gzip"], 1000)
    assert e.value.status == 413


def test_deflate_accepts_zlib_and_raw_streams():
    c = zlib.compressobj(wbits=-15)
    raw = c.compress(b"{}") + c.flush()
    assert inflate(zlib.compress(b"{}"), ["deflate"], 100) == b"{}"
    assert inflate(raw, ["deflate"], 100) == b"{}"


@pytest.mark.parametrize(
    "body, coding",
    [(b"not gzip", "gzip"), (gzip.compress(b"x" * 100, mtime=0)[:-10], "gzip"), (b"\xff\xfe", "deflate")],
    ids=["not-gzip", "truncated-gzip", "not-deflate"],  # the same ids in every process (pytest-xdist)
)
def test_corrupt_data_is_400(body, coding):
    with pytest.raises(GatewayError) as e:
        inflate(body, [coding], 1000)
    assert e.value.status == 400 and coding in e.value.message


def test_a_bomb_stops_one_byte_past_the_limit():
    bomb = zlib.compress(b"\0" * (64 * 1024 * 1024), 9)  # 64 MiB in ~64 KiB
    with pytest.raises(GatewayError) as e:
        inflate(bomb, ["deflate"], 1024 * 1024)
    assert e.value.status == 413
