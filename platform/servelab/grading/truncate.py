"""Long text cut to a size: the head and the tail kept, and a marker saying how much was cut.

The one way ServeLab shortens text for people (learner feedback, log excerpts, captured
container output), so every shortened text reads the same. Imported by the plugin inside the
grader container: the standard library only.
"""

from __future__ import annotations

CUT = "characters cut"
_MARKER_ROOM = 60  # what the marker itself may take of the limit


def mark_cut(head: str, tail: str, what: str) -> str:
    """`head` and `tail` joined by the marker, e.g. what = "1200 characters cut"."""
    return f"{head}\n… [{what}] …\n{tail}"


def cap_text(text: str, limit: int, marker: str = CUT) -> str:
    """Head and tail of `text` within `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - _MARKER_ROOM)
    head, tail = text[: keep // 2], text[len(text) - (keep - keep // 2) :] if keep else ""
    return mark_cut(head, tail, f"{len(text) - keep} {marker}")[: max(limit, 0)]
