"""Lists shown to people stay short: at most a few items, then how many were left out.

A learner controls how many problems a refusal finds (a requirements.txt of a million bad
lines, a JSON body of a thousand bad fields); what goes back is bounded all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

MAX_LISTED = 20

T = TypeVar("T")


def head(items: Sequence[T], limit: int = MAX_LISTED) -> tuple[list[T], int]:
    """The first `limit` items and how many more there are."""
    shown = list(items[:limit])
    return shown, len(items) - len(shown)


def more_line(left_out: int, noun: str = "problems") -> str:
    """'… and 7 more problems' (empty when nothing was left out)."""
    return f"… and {left_out} more {noun}" if left_out > 0 else ""


def bounded_join(
    items: Sequence[str], sep: str = "\n", *, limit: int = MAX_LISTED, noun: str = "problems"
) -> str:
    """At most `limit` items joined by `sep`, then '… and K more' when some were left out."""
    shown, left_out = head(items, limit)
    return sep.join([*shown, more_line(left_out, noun)] if left_out else shown)
