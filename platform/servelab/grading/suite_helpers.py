"""What a grader suite calls while a check runs: learner feedback, tables, time limits.

`feedback`, `fail`, `record_table`, `time_limit` and `record_leaderboard` (grader authors
import them from `servelab.grading.plugin`, which re-exports them). Each bounds what it keeps,
so a suite that loops cannot grow the result document without limit. Runs inside the grader
container: the standard library, pytest and ServeLab's own grading modules only.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, NoReturn

import pytest

from servelab.grading.budget import CheckGuard
from servelab.grading.report import (
    RAW_NOTE_CHARS,
    RAW_SHORT_CHARS,
    CheckRecord,
    RawEntry,
    RawNote,
    RawTable,
)
from servelab.grading.results import MAX_TABLE_ROWS, Cell
from servelab.grading.truncate import cap_text

MAX_NOTES = 20
MAX_NOTE_CHARS = 200_000  # per check, all its notes
MAX_TABLES = 10
MAX_COLUMNS = 50
MAX_TABLE_CHARS = 1_000_000  # per check, all its tables
MAX_LEADERBOARD = 100
_ANCHOR_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


class SuiteState:
    """The plugin's view of the suite in this process: the running check, the leaderboard,
    the time guard (set by the plugin, read by the helpers below)."""

    current: CheckRecord | None = None
    leaderboard: list[RawEntry] = []
    guard: CheckGuard | None = None


def _running_check(helper: str) -> CheckRecord:
    if SuiteState.current is None:
        raise RuntimeError(f"{helper}() can only be called while a grader check is running")
    return SuiteState.current


def feedback(message: str, *, section: str | None = None) -> None:
    """Tell the learner something about the running check (shown whatever its outcome).

    `section` is a lesson anchor id (e.g. "leakage") the learner should reread.
    """
    if section is not None and (not section or len(section) > 100 or set(section) - _ANCHOR_CHARS):
        raise ValueError(f"section must be a lesson anchor id like 'leakage', got {section!r}")
    check = _running_check("feedback")
    text = cap_text(str(message), RAW_NOTE_CHARS)
    kept = sum(len(note.message) for note in check.feedback)
    if len(check.feedback) < MAX_NOTES and kept + len(text) <= MAX_NOTE_CHARS:
        check.feedback.append(RawNote(text, section))


def fail(message: str, *, section: str) -> NoReturn:
    """Fail the running check, telling the learner what went wrong and where to read.

    The one way every suite fails a check with a lesson link: `feedback(message, section=...)`
    then `pytest.fail` without a traceback (learners never see assertion text anyway)."""
    feedback(message, section=section)
    pytest.fail(message, pytrace=False)


def _cell(value: Any, digits: int) -> Cell:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return round(value, digits)
    if hasattr(value, "item"):  # numpy scalars
        return _cell(value.item(), digits)
    return cap_text(str(value), RAW_SHORT_CHARS)


def record_table(name: str, rows: list[dict[str, Any]], *, digits: int = 2) -> None:
    """Show the learner a small table for the running check, e.g. a metric per slice.

    Floats are rounded to `digits` decimals (learners see rounded metrics, never the raw
    values a probing service could learn from); at most 200 rows are kept.
    """
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise TypeError("record_table rows must be a list of dicts (one dict per row)")
    check = _running_check("record_table")
    if len(check.tables) >= MAX_TABLES:
        return
    cleaned: list[dict[str, Cell]] = []
    for row in rows[:MAX_TABLE_ROWS]:
        kept = {
            cap_text(str(k), RAW_SHORT_CHARS): _cell(v, digits)
            for k, v in list(row.items())[:MAX_COLUMNS]
        }
        size = sum(len(k) + (len(v) if isinstance(v, str) else 8) for k, v in kept.items())
        if check.table_chars + size > MAX_TABLE_CHARS:  # each row is checked for leaks
            cleaned.append({"note": f"{len(rows) - len(cleaned)} more rows not shown"})
            break
        check.table_chars += size
        cleaned.append(kept)
    check.tables.append(RawTable(cap_text(str(name), RAW_SHORT_CHARS), cleaned))


def time_limit(seconds: float) -> AbstractContextManager[None]:
    """Stop the block after `seconds` with `TimeLimitReached` (or earlier at the suite's time
    budget): for grader work the service can make endless, such as generating cases from its
    schema. The plugin owns the suite's alarm: use this, never signal.alarm of your own."""
    if SuiteState.guard is None:
        raise RuntimeError("time_limit() can only be used while the plugin runs a suite")
    return SuiteState.guard.limit(seconds)


def record_leaderboard(name: str, value: float | str, *, order: str = "desc") -> None:
    """Add a leaderboard entry (Gradescope's optional leaderboard)."""
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc', got {order!r}")
    if not isinstance(value, int | float):
        value = cap_text(str(value), RAW_SHORT_CHARS)
    if len(SuiteState.leaderboard) < MAX_LEADERBOARD:
        ascending = order == "asc"
        name = cap_text(str(name), RAW_SHORT_CHARS)
        SuiteState.leaderboard.append(RawEntry(name, value, "asc" if ascending else "desc"))
