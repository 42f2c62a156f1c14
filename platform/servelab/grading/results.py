"""The result document: Gradescope's results.json shape, plus category, feedback and tables.

Written by the pytest plugin, read back by the runner as capped JSON (never unpickled),
validated here. Fields marked instructor-only are removed by `learner_view`.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_RESULT_BYTES = 1_000_000
MAX_TEXT = 20_000
MAX_TABLE_ROWS = 200
MAX_CHECKS = 2000

Cell = str | int | float | bool | None


class ResultError(Exception):
    """A result document that is missing, too large or malformed (a platform problem)."""


class ResultStatus(StrEnum):
    """What happened to the submission, the same word as its final SubmissionStatus."""

    GRADED = "graded"
    FAILED = "failed"  # the learner's code failed before the checks
    ERROR = "error"  # the platform failed


class Visibility(StrEnum):
    VISIBLE = "visible"
    HIDDEN = "hidden"
    AFTER_DUE = "after_due"


class Part(StrEnum):
    """Which part of an exercise's split hidden data a check was computed on.

    With `hidden_split = true` in exercise.toml, every check that reads hidden data runs once
    per part: learners see the feedback part until the due date; the grade uses the final part
    (Kaggle's public/private leaderboard idea, so many submissions cannot probe the grade).
    """

    FINAL = "final"
    FEEDBACK = "feedback"


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the check itself broke (setup/teardown), not the learner's service
    SKIPPED = "skipped"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedbackNote(_Model):
    """Learner-facing text written by the grader author; section is a lesson anchor id."""

    message: str = Field(max_length=MAX_TEXT)
    section: str | None = Field(default=None, max_length=100)


class Table(_Model):
    """A small table shown to the learner, e.g. metrics per slice."""

    name: str = Field(max_length=200)
    rows: list[dict[str, Cell]] = Field(default_factory=list, max_length=MAX_TABLE_ROWS)


class TestResult(_Model):
    """One check. `output` is what the learner reads; `instructor_output` is raw pytest text."""

    __test__ = False  # not a pytest test class

    name: str = Field(max_length=300)
    score: float = 0
    max_score: float = Field(default=0, ge=0)
    output: str = Field(default="", max_length=MAX_TEXT)
    visibility: Visibility = Visibility.VISIBLE
    tags: list[str] = Field(default_factory=list)
    status: CheckStatus
    category: str = Field(default="general", max_length=100)
    feedback: list[FeedbackNote] = Field(default_factory=list)
    section: str | None = Field(default=None, max_length=100)
    tables: list[Table] = Field(default_factory=list)
    seconds: float = 0
    # None: the check reads no hidden data, or the exercise does not split it
    part: Part | None = None
    # instructor-only
    nodeid: str = Field(default="", max_length=500)
    instructor_output: str = Field(default="", max_length=MAX_TEXT)


class LeaderboardEntry(_Model):
    name: str = Field(max_length=100)
    value: float | str
    order: Literal["asc", "desc"] = "desc"


class CategoryTotal(_Model):
    category: str
    label: str
    score: float
    max_score: float
    passed: int
    total: int


class ResultDocument(_Model):
    """The whole grade of one submission.

    `tests` are the checks that make the grade: those that read no hidden data plus, for an
    exercise with split hidden data, the final part's. `feedback_tests` holds the same
    hidden-data checks computed on the feedback part (empty without a split); `feedback_score`
    is what a learner sees before the due date.
    """

    # Set by the pipeline; documents stored before it existed were all graded.
    status: ResultStatus = ResultStatus.GRADED
    score: float = 0
    max_score: float = 0
    execution_time: float = 0
    output: str = Field(default="", max_length=MAX_TEXT)
    tests: list[TestResult] = Field(default_factory=list, max_length=MAX_CHECKS)
    feedback_tests: list[TestResult] = Field(default_factory=list, max_length=MAX_CHECKS)
    feedback_score: float | None = None
    feedback_max_score: float | None = None
    leaderboard: list[LeaderboardEntry] = Field(default_factory=list)
    categories: list[CategoryTotal] = Field(default_factory=list)
    # False when the suite was stopped (out of time or memory) before every check had run
    complete: bool = True
    # instructor-only: problems in the grader suite itself (collection errors, crashes)
    suite_errors: list[str] = Field(default_factory=list)
    # instructor-only: grader bugs that did not stop grading (e.g. feedback that quoted hidden
    # data and was redacted before a learner could see it)
    grader_warnings: list[str] = Field(default_factory=list, max_length=50)
    instructor_output: str = Field(default="", max_length=MAX_TEXT * 5)

    @field_validator("tests", "feedback_tests")
    @classmethod
    def _scores_in_range(cls, tests: list[TestResult]) -> list[TestResult]:
        for test in tests:
            if not 0 <= test.score <= test.max_score + 1e-9:
                raise ValueError(f"test {test.name!r}: score {test.score} outside 0..max_score")
        return tests

    def feedback_part(self) -> list[TestResult]:
        """The checks as computed on the feedback part: each final-part check replaced by its
        feedback-part twin (same node id), in the order of `tests`."""
        twins = {t.nodeid: t for t in self.feedback_tests}
        return [twins.get(t.nodeid, t) if t.part == Part.FINAL else t for t in self.tests]

    def with_totals(self, labels: dict[str, str] | None = None) -> ResultDocument:
        """A copy with score, max_score and per-category totals computed from the tests."""
        update: dict[str, object] = {
            "score": _total(self.tests, "score"),
            "max_score": _total(self.tests, "max_score"),
            "categories": category_totals(self.tests, labels or {}),
            "feedback_score": None,
            "feedback_max_score": None,
        }
        if self.feedback_tests:
            shown = self.feedback_part()
            update["feedback_score"] = _total(shown, "score")
            update["feedback_max_score"] = _total(shown, "max_score")
        return self.model_copy(update=update)


def _total(tests: list[TestResult], field: str) -> float:
    return round(sum(getattr(t, field) for t in tests), 6)


def category_totals(tests: list[TestResult], labels: dict[str, str]) -> list[CategoryTotal]:
    """Score per category, in the order categories first appear."""
    totals: dict[str, CategoryTotal] = {}
    for test in tests:
        total = totals.get(test.category) or CategoryTotal(
            category=test.category,
            label=labels.get(test.category, test.category.replace("_", " ").capitalize()),
            score=0,
            max_score=0,
            passed=0,
            total=0,
        )
        totals[test.category] = total.model_copy(
            update={
                "score": round(total.score + test.score, 6),
                "max_score": round(total.max_score + test.max_score, 6),
                "passed": total.passed + (test.status == CheckStatus.PASSED),
                "total": total.total + 1,
            }
        )
    return list(totals.values())


def _shown(test: TestResult, past_due: bool) -> bool:
    if test.visibility == Visibility.HIDDEN:
        return False
    return test.visibility != Visibility.AFTER_DUE or past_due


def learner_view(
    doc: ResultDocument, *, due: datetime | None = None, now: datetime | None = None
) -> ResultDocument:
    """What a learner may see: no raw output, no node ids, no hidden (or not yet due) checks.

    With split hidden data, the checks and the score are the feedback part's until the due
    date (the final part's only after it, so the grade cannot be probed). The overall score
    stays the chosen part's whole score; category totals cover shown checks only.
    """
    past_due = due is not None and (now or datetime.now(due.tzinfo)) >= due
    feedback = bool(doc.feedback_tests) and not past_due
    tests = doc.feedback_part() if feedback else doc.tests
    shown = [
        t.model_copy(update={"instructor_output": "", "nodeid": ""})
        for t in tests
        if _shown(t, past_due)
    ]
    labels = {c.category: c.label for c in doc.categories}
    return doc.model_copy(
        update={
            "score": _total(tests, "score"),
            "max_score": _total(tests, "max_score"),
            "tests": shown,
            "feedback_tests": [],
            "feedback_score": None,
            "feedback_max_score": None,
            "categories": category_totals(shown, labels),
            "suite_errors": [],
            "grader_warnings": [],
            "instructor_output": "",
        }
    )


def parse_result(raw: bytes | str) -> ResultDocument:
    """Validate a result document from JSON text, refusing anything over 1 MB."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_RESULT_BYTES:
        raise ResultError(f"the result document is {size} bytes, over the 1 MB limit")
    try:
        return ResultDocument.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise ResultError(f"the result document is not valid: {exc}") from exc


def read_result_file(path: Path) -> ResultDocument:
    """Read and validate a results JSON file, without reading more than the 1 MB cap.

    The file was written by a process that read learner-controlled data: only a regular file
    is read (never a link to elsewhere, a FIFO or a device).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise ResultError("the grader suite wrote no result document") from exc
    except OSError as exc:
        raise ResultError(f"the result document cannot be opened: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ResultError("the result document is not a regular file")
        raw = handle.read(MAX_RESULT_BYTES + 1)
    return parse_result(raw)
