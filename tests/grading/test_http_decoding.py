"""Capped streaming decoding: what comes out is bounded, whatever goes in."""

from __future__ import annotations

import gzip
import zlib

import pytest
from attack_services import gzip_bomb

from servelab.grading.http_decoding import EncodingRefused, ResponseTooLarge, inflate


def _chunks(data: bytes, size: int = 1000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_gzip_zlib_and_raw_deflate_decode() -> None:
    body = b'{"prediction": 0.5}' * 100
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    cases = {
        "gzip": gzip.compress(body),
        "deflate": zlib.compress(body),
    }
    for encoding, data in cases.items():
        assert b"".join(inflate(iter(_chunks(data)), encoding, 10_000)) == body
    raw_data = raw.compress(body) + raw.flush()
    assert b"".join(inflate(iter(_chunks(raw_data)), "deflate", 10_000)) == body


def test_several_gzip_members_are_one_body() -> None:
    data = gzip.compress(b"first ") + gzip.compress(b"second")
    assert b"".join(inflate(iter([data]), "gzip", 100)) == b"first second"


def test_output_is_cut_at_the_limit_even_from_one_tiny_chunk() -> None:
    outer = iter([gzip_bomb()])
    inner = inflate(outer, "gzip", 2 * 1024 * 1024)
    with pytest.raises(ResponseTooLarge, match="once decompressed"):
        for chunk in inflate(inner, "gzip", 1024 * 1024):
            assert len(chunk) <= 64 * 1024  # never more than one step at a time


def test_corrupt_data_is_refused() -> None:
    with pytest.raises(EncodingRefused, match="corrupt gzip"):
        list(inflate(iter([b"\x1f\x8b\x08\x00garbage-garbage"]), "gzip", 1000))
