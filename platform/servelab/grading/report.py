"""From the checks the plugin recorded to a result document: learner texts, redaction, parts.

A check's learner-visible text is the grader's feedback plus, when the service made the check
fail (too slow, too large, broken), a sentence that says so. Every learner-visible string is
passed through the hidden-data `Redactor` before it goes into the document.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from servelab.grading.guarded_http import Problem, ServiceLimits
from servelab.grading.redact import WITHHELD, WITHHELD_NAME, Redactor
from servelab.grading.results import (
    MAX_CHECKS,
    MAX_TEXT,
    Cell,
    CheckStatus,
    FeedbackNote,
    LeaderboardEntry,
    Part,
    ResultDocument,
    Table,
    TestResult,
    Visibility,
)
from servelab.grading.truncate import cap_text

MAX_WARNINGS = 50
# What the helpers keep of the grader's text: generous, so that the redactor sees a quoted row
# whole even where the learner's copy is cut to MAX_TEXT, SHORT_CHARS (names, cells, keys).
RAW_NOTE_CHARS = 100_000
RAW_SHORT_CHARS = 2_000
SHORT_CHARS = 200


@dataclass
class RawNote:
    message: str
    section: str | None = None


@dataclass
class RawTable:
    name: str
    rows: list[dict[str, Cell]]


@dataclass
class RawEntry:
    name: str
    value: float | str
    order: Literal["asc", "desc"]


class NotRun(StrEnum):
    PENDING = "pending"  # not reached yet (what a document written mid-run says)
    OUT_OF_TIME = "out_of_time"  # the time budget ended before the check started


@dataclass
class CheckRecord:
    """One collected check, filled in while it runs."""

    nodeid: str  # without the hidden-data part parameter
    name: str
    points: float
    category: str
    visibility: Visibility
    part: Part | None = None
    not_run: NotRun | None = NotRun.PENDING
    status: CheckStatus = CheckStatus.PASSED
    feedback: list[RawNote] = field(default_factory=list)
    tables: list[RawTable] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    seconds: float = 0.0
    problems: set[Problem] = field(default_factory=set)
    stopped_for_time: bool = False  # the budget's alarm fired while it ran
    table_chars: int = 0  # characters in its tables so far (bounded: each row is scanned)
    finished: bool = False
    result: TestResult | None = None  # built once, when finished
    leaked: list[str] = field(default_factory=list)  # fields withheld by the redactor

    @property
    def label(self) -> str:
        """How instructors find the check: node id and part."""
        return f"{self.nodeid} [{self.part}]" if self.part else self.nodeid


def _problem_text(problem: Problem, limits: ServiceLimits) -> str:
    seconds = f"{limits.deadline_seconds:g} s"
    size = f"{limits.max_body_bytes / 2**20:g} MB"
    return {
        Problem.TOO_LARGE: f"your service sent a response over {size} (counted after "
        "decompressing it). Answers should be small JSON documents.",
        Problem.ENCODING: "your service sent a compressed answer the grader does not decode. "
        "The grader asks for uncompressed answers (Accept-Encoding: identity); do not force "
        "a compression.",
        Problem.HEADERS: "your service sent too many or too large response headers. Send a "
        "few small headers, and no cookies.",
        Problem.OUT_OF_TIME: "the hidden suite ran out of time during this check, because "
        "your service answered slowly. Make every request answer well within a second.",
        Problem.DEADLINE: f"your service did not finish answering within the {seconds} each "
        "request gets (it answered too slowly, sent its answer bit by bit, or kept sending "
        "interim responses). Make every request answer well within a second.",
        Problem.TIMED_OUT: f"your service did not answer in time. Each request gets {seconds}; "
        "make sure no endpoint blocks or loops.",
        Problem.UNREACHABLE: "the connection to your service failed, or its answer was not "
        "valid HTTP. It may have crashed while answering; its log says why.",
    }[problem]


_ORDER = [  # the most telling first
    Problem.TOO_LARGE,
    Problem.ENCODING,
    Problem.HEADERS,
    Problem.OUT_OF_TIME,
    Problem.DEADLINE,
    Problem.TIMED_OUT,
    Problem.UNREACHABLE,
]

NOT_RUN_TEXT = {
    NotRun.PENDING: "This check was not run: grading stopped before it (the hidden suite ran "
    "out of time or memory).",
    NotRun.OUT_OF_TIME: "This check was not run: the checks ran out of time because your "
    "service answered slowly. Make every request answer well within a second.",
}


def learner_output(check: CheckRecord, name: str, notes: list[str], limits: ServiceLimits) -> str:
    """What the learner reads for a check: its feedback, and why the service made it fail."""
    if check.not_run is not None:
        return NOT_RUN_TEXT[check.not_run]
    text = "\n\n".join(notes)
    if check.status == CheckStatus.PASSED:
        return text
    problems = set(check.problems)
    if check.stopped_for_time:
        problems.add(Problem.OUT_OF_TIME)
    if text:  # a dropped connection may have been retried: the grader's notes say more
        problems.discard(Problem.UNREACHABLE)
    problem = next((p for p in _ORDER if p in problems), None)
    if problem is not None:
        reason = f'The check "{name}" did not pass: {_problem_text(problem, limits)}'
        return f"{text}\n\n{reason}" if text else reason
    if text:
        return text
    if check.status == CheckStatus.SKIPPED:
        return f'The check "{name}" was not run.'
    if check.status == CheckStatus.ERROR:
        return f'The check "{name}" could not be completed against your service.'
    return f'The check "{name}" did not pass.'


def check_result(
    check: CheckRecord, redactor: Redactor | None, limits: ServiceLimits
) -> TestResult:
    """The check's TestResult, every learner-visible string redacted (leaks noted on it).

    What was withheld is kept in the instructor output, so the grader bug can be found. Long
    on purpose: every learner-visible field passes `clean` here, in one place, so a new
    field cannot skip redaction unnoticed.
    """
    if check.result is not None:
        return check.result
    leaked: list[str] = []
    withheld: list[str] = []

    def clean(text: str, where: str, replacement: str = WITHHELD) -> str:
        if redactor is None or not redactor.fingerprint.leaks(text):
            return text
        leaked.append(where)
        withheld.append(f"[withheld from learners: {where}]\n{cap_text(text, 2_000)}")
        return replacement

    def clean_section(section: str | None) -> str | None:
        return None if section is None or clean(section, "a section id", "") == "" else section

    name = clean(check.name, "the check's name", WITHHELD_NAME)
    notes = [
        FeedbackNote(
            message=cap_text(clean(note.message, f"feedback note {i + 1}"), MAX_TEXT),
            section=clean_section(note.section),
        )
        for i, note in enumerate(check.feedback)
    ]
    tables = []
    for table in check.tables:
        table_name, rows = table.name, table.rows
        if redactor is not None:
            table_name, rows, hits = redactor.table(table_name, rows)
            leaked += hits
            if hits:
                withheld.append(f"[withheld from learners: {', '.join(hits)}]")
        tables.append(_shown_table(table_name, rows))
    output = clean(learner_output(check, name, [n.message for n in notes], limits), "the output")
    ok = check.not_run is None and check.status == CheckStatus.PASSED
    status = CheckStatus.SKIPPED if check.not_run is not None else check.status
    result = TestResult(
        name=name[:300],
        score=check.points if ok else 0.0,
        max_score=check.points,
        output=cap_text(output, MAX_TEXT),
        visibility=check.visibility,
        tags=[check.category],
        status=status,
        category=check.category,
        feedback=notes,
        section=next((n.section for n in notes if n.section), None),
        tables=tables,
        seconds=round(check.seconds, 4),
        part=check.part,
        nodeid=check.nodeid[:500],
        instructor_output=cap_text("\n".join([*check.raw, *withheld]), 8_000),
    )
    if check.finished:  # built once; the raw texts are not needed any more
        check.result, check.leaked = result, leaked
        check.feedback, check.tables, check.raw = [], [], []
    return result


def _shown_table(name: str, rows: list[dict[str, Cell]]) -> Table:
    def cell(value: Cell) -> Cell:
        return cap_text(value, SHORT_CHARS) if isinstance(value, str) else value

    return Table(
        name=cap_text(name, SHORT_CHARS),
        rows=[{cap_text(k, SHORT_CHARS): cell(v) for k, v in row.items()} for row in rows],
    )


def leak_warning(check: CheckRecord) -> str:
    fields = ", ".join(dict.fromkeys(check.leaked))
    return (
        f"grader bug in {check.label}: {fields} contained hidden test data and was withheld "
        "from learners. Feedback must be text the grader wrote and values it computed, never "
        "the service's responses or hidden rows."
    )


def build_document(
    checks: list[CheckRecord],
    *,
    started: float,
    leaderboard: list[RawEntry],
    suite_errors: list[str],
    warnings: list[str],
    redactor: Redactor | None,
    limits: ServiceLimits,
    labels: dict[str, str],
    complete: bool,
) -> ResultDocument:
    """The whole document: final-part (and unsplit) checks in `tests`, feedback-part ones in
    `feedback_tests`, totals computed, grader bugs in `grader_warnings`."""
    tests: list[TestResult] = []
    feedback_tests: list[TestResult] = []
    grader_warnings = list(warnings)
    for check in checks:
        result = check_result(check, redactor, limits)
        (feedback_tests if check.part == Part.FEEDBACK else tests).append(result)
        if check.leaked:
            grader_warnings.append(leak_warning(check))
    board = []
    for entry in leaderboard:
        name, value = entry.name, entry.value
        if redactor and (redactor.text(name)[1] or redactor.text(str(value))[1]):
            name, value = "withheld", "withheld"
            grader_warnings.append(
                "grader bug: a leaderboard entry contained hidden test data and was withheld"
            )
        if isinstance(value, str):
            value = cap_text(value, 100)
        board.append(LeaderboardEntry(name=cap_text(name, 100), value=value, order=entry.order))
    if len(tests) > MAX_CHECKS or len(feedback_tests) > MAX_CHECKS:
        suite_errors = [
            f"the suite has over {MAX_CHECKS} checks; the result lists the first",
            *suite_errors,
        ]
        tests, feedback_tests = tests[:MAX_CHECKS], feedback_tests[:MAX_CHECKS]
    passed = sum(t.status == CheckStatus.PASSED for t in tests)
    output = f"{passed} of {len(tests)} checks passed."
    skipped_for_time = sum(c.not_run == NotRun.OUT_OF_TIME for c in checks)
    if skipped_for_time:
        output += f" {skipped_for_time} checks were not run: the suite ran out of time."
    if len(grader_warnings) > MAX_WARNINGS:
        more = len(grader_warnings) - MAX_WARNINGS + 1
        grader_warnings = [*grader_warnings[: MAX_WARNINGS - 1], f"… and {more} more warnings"]
    doc = ResultDocument(
        execution_time=round(time.monotonic() - started, 3),
        output=output,
        tests=tests,
        feedback_tests=feedback_tests,
        leaderboard=board,
        complete=complete,
        suite_errors=suite_errors[:20],
        grader_warnings=grader_warnings,
    )
    return doc.with_totals(labels)
