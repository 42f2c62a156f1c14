"""Keeping the result document under its 1 MB cap, and writing it as the suite goes.

A document over the cap is refused by the runner, and the submission would end as a platform
error although only text was too long. So the plugin trims until it fits: instructor output
first, then learner texts and tables, step by step, down to names and scores only. Only a
suite with too many checks to list at all can still be too large: a suite error (the grader's
fault), never the learner's.

Documents are written by atomic replace (the results mount must hold two documents), after
collection, after checks (while writing stays a small share of the time) and at the end; if
the suite is killed, the last one lists every collected check and says `complete: false`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from servelab.grading.results import (
    MAX_RESULT_BYTES,
    FeedbackNote,
    ResultDocument,
    Table,
    TestResult,
)
from servelab.grading.truncate import cap_text

_SHORTENED = "shortened to fit the result size limit"


@dataclass(frozen=True)
class _Trim:
    instructor: int  # characters of instructor output per check (and x5 for the document)
    learner: int  # characters per learner text (output, each feedback note)
    notes: int  # feedback notes per check
    tables: int  # tables per check
    rows: int  # rows per table
    cell: int  # characters per string cell
    name: int  # characters of names and node ids (node ids get twice as many)
    board: int  # leaderboard entries


_STEPS = [
    _Trim(2_000, 20_000, 50, 20, 200, 1_000, 300, 100),
    _Trim(0, 20_000, 50, 20, 200, 1_000, 300, 100),
    _Trim(0, 4_000, 20, 10, 50, 200, 300, 100),
    _Trim(0, 1_000, 5, 5, 20, 100, 200, 50),
    _Trim(0, 200, 2, 2, 5, 40, 150, 20),
    _Trim(0, 120, 0, 0, 0, 0, 100, 0),
    _Trim(0, 0, 0, 0, 0, 0, 60, 0),
]


def document_size(doc: ResultDocument) -> int:
    """Bytes of `doc` as JSON, counted check by check (never one giant string at once)."""
    bare = doc.model_copy(update={"tests": [], "feedback_tests": []})
    size = len(bare.model_dump_json().encode())
    for tests in (doc.tests, doc.feedback_tests):
        size += sum(len(t.model_dump_json().encode()) for t in tests) + max(len(tests) - 1, 0)
    return size


def _cell(value: object, limit: int) -> object:
    return cap_text(value, limit) if isinstance(value, str) else value


def _table(table: Table, trim: _Trim) -> Table:
    rows = [
        {cap_text(k, trim.cell): _cell(v, trim.cell) for k, v in row.items()}
        for row in table.rows[: trim.rows]
    ]
    if len(table.rows) > trim.rows and trim.rows:
        rows[-1] = {"note": f"{len(table.rows) - trim.rows + 1} rows not shown ({_SHORTENED})"}
    return Table(name=cap_text(table.name, trim.name), rows=rows)


def _test(test: TestResult, trim: _Trim) -> TestResult:
    notes = [
        FeedbackNote(message=cap_text(n.message, trim.learner, _SHORTENED), section=n.section)
        for n in test.feedback[: trim.notes]
    ]
    return test.model_copy(
        update={
            "name": cap_text(test.name, trim.name),
            "nodeid": cap_text(test.nodeid, trim.name * 2),
            "output": cap_text(test.output, trim.learner, _SHORTENED),
            "feedback": notes,
            "tables": [_table(t, trim) for t in test.tables[: trim.tables]],
            "instructor_output": cap_text(test.instructor_output, trim.instructor),
        }
    )


def _trimmed(doc: ResultDocument, trim: _Trim) -> ResultDocument:
    return doc.model_copy(
        update={
            "tests": [_test(t, trim) for t in doc.tests],
            "feedback_tests": [_test(t, trim) for t in doc.feedback_tests],
            "leaderboard": doc.leaderboard[: trim.board],
            "instructor_output": cap_text(doc.instructor_output, trim.instructor * 5),
            "suite_errors": [cap_text(e, max(trim.instructor, 300)) for e in doc.suite_errors],
            "grader_warnings": [
                cap_text(w, max(trim.instructor, 300)) for w in doc.grader_warnings
            ],
        }
    )


def fit_document(doc: ResultDocument, cap: int = MAX_RESULT_BYTES) -> ResultDocument:
    """`doc`, trimmed as little as needed to serialize within `cap` bytes."""
    if document_size(doc) <= cap:
        return doc
    for trim in _STEPS:
        trimmed = _trimmed(doc, trim)
        if document_size(trimmed) <= cap:
            return trimmed
    error = "the result document is too large even without feedback: the suite has too many checks"
    tests = trimmed.tests
    while tests and document_size(trimmed) > cap:  # a grader problem: keep what fits, and say so
        tests = tests[: len(tests) * 3 // 4]
        trimmed = trimmed.model_copy(
            update={"tests": tests, "feedback_tests": [], "suite_errors": [error]}
        )
    return trimmed


class DocumentWriter:
    """Writes result documents to `path` by atomic replace, after every check while writing
    is cheap: a suite killed in a check loses no result that came before it. Writing never
    takes more than about a tenth of the suite's time (big documents are written less often).
    """

    def __init__(self, path: Path, share: float = 0.1) -> None:
        self.path = path
        self.share = share
        self._last = -float("inf")
        self._cost = 0.0

    @property
    def due(self) -> bool:
        return time.monotonic() - self._last >= self._cost / self.share

    def write(self, doc: ResultDocument) -> None:
        started = time.monotonic()
        text = fit_document(doc).model_dump_json()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, self.path)
        self._last = time.monotonic()
        self._cost = self._last - started
