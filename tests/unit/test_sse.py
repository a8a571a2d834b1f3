"""formats/sse.py: the incremental SSE decoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchyard.formats.sse import SSEDecoder, SSEEvent


def decode(data: bytes, splits: list[int] | None = None) -> list[SSEEvent]:
    """Feed `data` cut at the given positions, then close."""
    d = SSEDecoder()
    out: list[SSEEvent] = []
    prev = 0
    for cut in sorted(splits or []):
        out += d.feed(data[prev:cut])
        prev = cut
    out += d.feed(data[prev:])
    out += d.close()
    return out


def ev(data: str, event: str = "message") -> SSEEvent:
    return SSEEvent(event, data)


STREAM = b'event: ping\ndata: {"a": 1}\n\n: keep-alive\n\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n'
EXPECTED = [ev('{"a": 1}', "ping"), ev("line one\nline two"), ev("[DONE]")]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_line_endings(eol: bytes) -> None:
    assert decode(STREAM.replace(b"\n", eol)) == EXPECTED


def test_mixed_line_endings() -> None:
    data = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"
    assert decode(data) == [ev("a\nb\nc"), ev("d")]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_every_split_position(eol: bytes) -> None:
    data = STREAM.replace(b"\n", eol)
    for i in range(len(data) + 1):
        assert decode(data, [i]) == EXPECTED, f"split at {i}"


def test_byte_by_byte() -> None:
    for eol in (b"\n", b"\r\n", b"\r"):
        data = STREAM.replace(b"\n", eol)
        assert decode(data, list(range(len(data)))) == EXPECTED


def test_events_are_returned_as_soon_as_complete() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\n") == []
    assert d.feed(b"\n") == [ev("a")]
    assert d.feed(b"data: b\n\ndata: c\n\n") == [ev("b"), ev("c")]
    assert d.close() == []


def test_crlf_split_between_cr_and_lf_is_one_line_end() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"\n\r") == []
    assert d.feed(b"\n") == [ev("a")]


def test_multi_line_data() -> None:
    assert decode(b'data: {\ndata:   "x": 1\ndata: }\n\n') == [ev('{\n  "x": 1\n}')]


def test_comments_are_ignored() -> None:
    assert decode(b": hello\n\n:\n\ndata: x\n: inside an event\ndata: y\n\n") == [ev("x\ny")]


def test_event_names_apply_to_one_event() -> None:
    data = b"event: message_start\ndata: 1\n\ndata: 2\n\nevent: content_block_delta\ndata: 3\n\n"
    assert decode(data) == [ev("1", "message_start"), ev("2"), ev("3", "content_block_delta")]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: ping\n\ndata: x\n\n") == [ev("x")]


def test_field_parsing() -> None:
    # No space after the colon; only one leading space is removed; a colon inside the value is kept.
    assert decode(b"data:x\n\n") == [ev("x")]
    assert decode(b"data:  two spaces\n\n") == [ev(" two spaces")]
    assert decode(b"data: a: b\n\n") == [ev("a: b")]
    # A field name with no colon has an empty value.
    assert decode(b"data\n\n") == [ev("")]
    assert decode(b"data\ndata\n\n") == [ev("\n")]
    # id and retry and unknown fields are ignored.
    assert decode(b"id: 7\nretry: 100\nfoo: bar\ndata: x\n\n") == [ev("x")]


def test_utf8_split_inside_a_character() -> None:
    data = "data: héllo wörld ✓\n\n".encode()
    for i in range(len(data) + 1):
        assert decode(data, [i]) == [ev("héllo wörld ✓")]


@pytest.mark.parametrize(
    "data",
    [b"data: last", b"data: last\n", b"data: last\r\n", b"data: last\r\r", b"data: last\n\n"],
    ids=["no-eol", "lf", "crlf", "cr-cr", "blank"],
)
def test_final_event_without_blank_line_is_flushed_by_close(data: bytes) -> None:
    d = SSEDecoder()
    got = d.feed(b"data: first\n\n" + data)
    got += d.close()
    assert got == [ev("first"), ev("last")]


def test_final_cr_terminated_line_is_flushed_without_the_cr() -> None:
    d = SSEDecoder()
    got = d.feed(b"data: last\r")
    got += d.close()
    assert got == [ev("last")]


def test_leading_bom_is_ignored() -> None:
    assert decode(b"\xef\xbb\xbfdata: a\n\n") == [ev("a")]


def test_close_twice_and_empty() -> None:
    d = SSEDecoder()
    assert d.feed(b"") == []
    assert d.close() == []
    assert d.close() == []


def test_close_does_not_flush_a_pending_event_name_alone() -> None:
    d = SSEDecoder()
    assert d.feed(b"event: x\n") == []
    assert d.close() == []


# -- property: any split of a valid stream gives the events the stream encodes -----------------------------

_value = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), max_size=20)
_name = st.text(
    alphabet=st.characters(categories=("Ll", "Lu", "Nd"), include_characters="_."), min_size=1, max_size=12
)
_event = st.tuples(st.none() | _name, st.lists(_value, min_size=1, max_size=4), st.booleans())


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[SSEEvent], list[int]]:
    events = draw(st.lists(_event, max_size=6))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text, expected = "", []
    for name, lines, comment in events:
        if comment:
            text += ": note" + eol
        if name is not None:
            text += f"event: {name}{eol}"
        text += "".join(f"data: {line}{eol}" for line in lines)
        text += eol
        expected.append(SSEEvent(name or "message", "\n".join(lines)))
    data = text.encode()
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=8))
    return data, expected, cuts


@settings(max_examples=300, deadline=None)
@given(streams())
def test_any_split_yields_the_encoded_events(case: tuple[bytes, list[SSEEvent], list[int]]) -> None:
    data, expected, cuts = case
    assert decode(data) == expected
    assert decode(data, cuts) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_any_split_of_arbitrary_bytes_matches_the_unsplit_decode(data: bytes, cuts: list[int]) -> None:
    cuts = [c for c in cuts if c <= len(data)]
    assert decode(data, cuts) == decode(data)
