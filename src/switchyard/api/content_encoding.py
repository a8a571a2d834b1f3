"""Compressed request bodies (`Content-Encoding`): gzip and deflate are inflated, under the same size limit as a
plain body applied to the *inflated* size, so a small zip bomb is a 413 after at most `limit` bytes of output;
any other coding is a 415 that names it.

`deflate` is the zlib format (RFC 9110 §8.4.1.2); the raw DEFLATE stream some clients send instead is accepted
too. Brotli and zstd would need a third-party decoder the gateway does not ship, so they are refused (415) rather
than guessed at. Several codings (`gzip, deflate`) are undone in reverse order, as they were applied.
"""

from __future__ import annotations

import asyncio
import zlib

from ..errors import GatewayError
from .asgi import too_large

_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}  # 31: gzip header; 15: zlib header
_IDENTITY = ("", "identity")


def codings(raw_headers: list[tuple[bytes, bytes]]) -> list[str]:
    """The codings of `Content-Encoding` (every instance of the header), in the order they were applied."""
    out: list[str] = []
    for name, value in raw_headers:
        if name == b"content-encoding":
            out += [c.strip().lower() for c in value.decode("latin-1").split(",")]
    return [c for c in out if c not in _IDENTITY] if out else out  # most requests send no Content-Encoding


def check(encodings: list[str]) -> None:
    """415 before a byte of the body is read when a coding cannot be undone."""
    for c in encodings:
        if c not in _WBITS:
            raise GatewayError(
                415,
                f"Content-Encoding {c!r} is not supported; send the body uncompressed or "
                "compressed with gzip or deflate.",
                code="unsupported_content_encoding",
            )


_THREAD_ABOVE = 1024  # compressed bytes; zlib inflates up to ~1000:1, so more may block the loop for ms


async def inflated(body: bytes, encodings: list[str], limit: int) -> bytes:
    """`inflate`, in a thread (zlib releases the GIL) unless the body is tiny: 32 KiB of gzip can hold 32 MiB,
    which takes ~200 ms to inflate — on the event loop that would stall every other request."""
    if len(body) <= _THREAD_ABOVE:
        return inflate(body, encodings, limit)
    return await asyncio.to_thread(inflate, body, encodings, limit)


def inflate(body: bytes, encodings: list[str], limit: int) -> bytes:
    """The body with every coding undone; 413 once the output passes `limit`, 400 for a corrupt stream."""
    for c in reversed(encodings):
        body = _undo(body, c, limit)
    return body


def _undo(body: bytes, coding: str, limit: int) -> bytes:
    wbits = _WBITS[coding]
    try:
        return _decompress(body, wbits, limit, coding)
    except zlib.error:
        if coding != "deflate":
            raise _corrupt(coding) from None
    try:  # raw DEFLATE without the zlib wrapper (sent by some clients as "deflate")
        return _decompress(body, -15, limit, coding)
    except zlib.error:
        raise _corrupt(coding) from None


def _decompress(body: bytes, wbits: int, limit: int, coding: str) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(body, limit + 1)  # never more than one byte past the limit is produced
    if len(out) > limit:
        raise too_large(limit)
    if not d.eof:
        # output stopped at the cap with input left: the inflated body is over the limit
        if d.unconsumed_tail:
            raise too_large(limit)
        raise _corrupt(coding)  # the stream ended before its end marker
    if coding != "deflate" and d.unused_data:  # gzip allows several members one after another
        rest = _decompress(d.unused_data, wbits, limit - len(out), coding)
        out += rest
    return out


def _corrupt(coding: str) -> GatewayError:
    return GatewayError(
        400,
        f"The request body is not valid {coding} data (Content-Encoding: {coding}).",
        code="invalid_content_encoding",
    )
