"""Streaming gzip and deflate decoding with a cap on what comes out, layer by layer.

httpx decodes a Content-Encoding without a limit: 2.5 KB of gzip of gzip inflates to 1 GiB.
zlib's `max_length` lets each layer produce at most one step at a time, so no more than the
cap is ever held, and decoding stops as soon as a layer's output passes it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import httpx

_STEP = 64 * 1024


class ResponseTooLarge(httpx.RemoteProtocolError):
    """The response body was over the limit, counted after decoding."""


class EncodingRefused(httpx.DecodingError):
    """The response used a content encoding the grader does not decode, or was corrupt."""


def inflate(chunks: Iterator[bytes], encoding: str, limit: int) -> Iterator[bytes]:
    """Undo one gzip or deflate layer, never holding or yielding more than `limit` bytes."""
    decoder: Any = None
    produced = 0
    for chunk in chunks:
        data = chunk
        while data:
            if decoder is None:
                decoder = zlib.decompressobj(_window_bits(encoding, data))
            try:
                out = decoder.decompress(data, _STEP)
            except zlib.error as exc:
                raise EncodingRefused(f"the service sent corrupt {encoding} data") from exc
            produced += len(out)
            if produced > limit:
                raise ResponseTooLarge(too_large_message(limit, decoded=True))
            if out:
                yield out
            data = decoder.unconsumed_tail
            if not data and decoder.eof:
                data, decoder = decoder.unused_data, None  # gzip allows several members
                if encoding == "deflate":
                    data = b""
    while decoder is not None:  # output zlib still holds once the input is consumed
        out = decoder.decompress(b"", _STEP)
        if not out:
            break
        produced += len(out)
        if produced > limit:
            raise ResponseTooLarge(too_large_message(limit, decoded=True))
        yield out


def _window_bits(encoding: str, first: bytes) -> int:
    if encoding == "gzip":
        return 16 + zlib.MAX_WBITS
    # "deflate" should be zlib-wrapped; some servers send raw deflate
    zlib_header = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS


def too_large_message(limit: int, *, decoded: bool) -> str:
    size = f"{limit / (1024 * 1024):g} MB"
    return f"the service sent a response body over {size}" + (
        " once decompressed" if decoded else ""
    )
