"""Cutting long text: head and tail kept within the limit, the cut counted in one marker."""

from __future__ import annotations

from servelab.grading.truncate import cap_text, mark_cut


def test_short_text_is_kept_whole() -> None:
    assert cap_text("hello", 5) == "hello"


def test_long_text_keeps_head_and_tail_within_the_limit() -> None:
    text = "H" * 500 + "m" * 10_000 + "T" * 500
    capped = cap_text(text, 1_000)
    assert len(capped) <= 1_000
    assert capped.startswith("H" * 470) and capped.endswith("T" * 470)
    assert f"… [{len(text) - 940} characters cut] …" in capped


def test_the_marker_names_what_was_cut() -> None:
    assert "[10060 shortened]" in cap_text("x" * 10_100, 100, "shortened")
    assert mark_cut("a", "b", "3 bytes cut") == "a\n… [3 bytes cut] …\nb"


def test_a_limit_below_the_marker_still_holds() -> None:
    assert len(cap_text("x" * 1_000, 10)) <= 10
