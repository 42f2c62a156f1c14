"""The shared 'at most N, then … and K more' helper for every list shown to a person."""

from __future__ import annotations

from servelab.listing import MAX_LISTED, bounded_join, head, more_line


def test_short_lists_are_shown_whole() -> None:
    assert head(["a", "b"]) == (["a", "b"], 0)
    assert bounded_join(["a", "b"], "; ") == "a; b"
    assert more_line(0) == ""


def test_long_lists_show_the_first_few_and_count_the_rest() -> None:
    items = [f"problem {n}" for n in range(1, 1001)]
    shown, left_out = head(items)
    assert len(shown) == MAX_LISTED == 20 and left_out == 980
    text = bounded_join(items)
    assert text.splitlines()[:2] == ["problem 1", "problem 2"]
    assert text.splitlines()[-1] == "… and 980 more problems"
    assert "problem 21" not in text
    assert bounded_join(items, ", ", limit=3, noun="ids") == (
        "problem 1, problem 2, problem 3, … and 997 more ids"
    )
