"""What people see of submissions: lists, results, timeline, timing, queue place, files.

Learners get only what they may see (`learner_*`): their own submissions, `results.learner_view`
of a result, the score of the part the due date allows, their log only when their code failed.
Instructors get everything (`full_result`, details, the files sent). Read-only: writes are the
queue's, intake's and regrade's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, and_, col, func, or_, select

from servelab.content.exercise import Exercise
from servelab.db.models import User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import queue
from servelab.grading.result_changes import CheckChanges, check_changes
from servelab.grading.results import (
    ResultDocument,
    ResultError,
    TestResult,
    learner_view,
    parse_result,
)
from servelab.grading.truncate import cap_text
from servelab.settings import Settings

MAX_SHOWN_FILE_BYTES = 200_000
# What a page shows of a log at most (the pipeline already stores at most 8,000 characters;
# this also bounds rows written before that cap, or by another path).
MAX_SHOWN_LOG_CHARS = 8_000
# Points a learner's score history shows: the latest ones.
MAX_HISTORY_POINTS = 30
# The phases a learner's own code takes (the rest is platform overhead, for instructors).
LEARNER_PHASES = {"train": "Training", "startup": "Start-up", "test": "Checks"}


def visible_submission(session: Session, *, user: User, submission_id: int) -> Submission | None:
    """The submission if `user` may see it (their own, or any for instructors), else None."""
    submission = queue.get_submission(session, submission_id=submission_id)
    if submission is None:
        return None
    if submission.user_id != user.id and not user.is_instructor:
        return None
    return submission


def list_submissions(
    session: Session, *, user_id: int | None = None, exercise_slug: str | None = None
) -> list[Submission]:
    """Newest first, filtered by owner and/or exercise."""
    stmt = select(Submission).order_by(
        col(Submission.requested_at).desc(), col(Submission.id).desc()
    )
    if user_id is not None:
        stmt = stmt.where(Submission.user_id == user_id)
    if exercise_slug is not None:
        stmt = stmt.where(Submission.exercise_slug == exercise_slug)
    return list(session.exec(stmt).all())


def best_graded(
    submissions: list[Submission], exercises: dict[str, Exercise] | None = None
) -> Submission | None:
    """The highest-scoring graded submission (the latest among equals; input newest first).

    With `exercises`, scores are the ones learners may see (`learner_score`), so the choice
    itself reveals nothing of the final part before the due date.
    """
    graded = [s for s in submissions if s.status == SubmissionStatus.GRADED]
    if exercises is None:
        return max(graded, key=lambda s: s.score or 0, default=None)
    return max(
        graded,
        key=lambda s: learner_score(s, exercises.get(s.exercise_slug))[0] or 0,
        default=None,
    )


def learner_score(
    submission: Submission, exercise: Exercise | None, *, now: datetime | None = None
) -> tuple[float | None, float | None]:
    """(score, max) a learner may see: none before grading; the feedback part's until the due
    date when the exercise splits its hidden data; the grade itself otherwise."""
    if submission.status != SubmissionStatus.GRADED:
        return None, None
    feedback_shown = exercise is None or not exercise.is_past_due(now)
    if submission.feedback_score is not None and feedback_shown:
        return submission.feedback_score, submission.feedback_max_score
    return submission.score, submission.max_score


def full_result(submission: Submission) -> ResultDocument | None:
    """The stored result document (instructors only), or None before grading."""
    if not submission.result_json:
        return None
    try:
        return parse_result(submission.result_json)
    except ResultError:
        return None


def learner_result(
    submission: Submission, exercise: Exercise | None, *, now: datetime | None = None
) -> ResultDocument | None:
    """What the learner may see: `learner_view`, with after_due checks once past the due date."""
    doc = full_result(submission)
    if doc is None:
        return None
    return learner_view(doc, due=exercise.due if exercise else None, now=now)


def output_beyond_feedback(test: TestResult) -> str:
    """What a check's `output` says besides its feedback notes, for a page that shows the notes
    themselves: the plugin's `output` is the notes joined, then why the service failed the
    check (report.learner_output). Without notes, or when the output does not start with them
    (it was withheld whole), the whole output."""
    joined = "\n\n".join(note.message for note in test.feedback)
    if joined and test.output.startswith(joined):
        return test.output[len(joined) :].strip()
    return test.output


def learner_log_excerpt(submission: Submission) -> str:
    """The log excerpt, shown to the learner only when their code failed.

    A failure happens while training or starting, before any hidden request was sent, so
    that output holds nothing secret. After grading, the learner's service's log may echo the
    hidden requests (holdout rows) it received; on a platform error it holds the platform's
    diagnostics. Both are for instructors only.
    """
    if submission.status == SubmissionStatus.FAILED:
        return cap_text(submission.log_excerpt or "", MAX_SHOWN_LOG_CHARS)
    return ""


def learner_train_log(submission: Submission) -> str:
    """What train.py printed, once training finished: it saw only public data, so it is
    always the learner's to read (a training failure's output is the log excerpt instead)."""
    return cap_text(submission.train_log or "", MAX_SHOWN_LOG_CHARS)


def previous_graded(session: Session, *, submission: Submission) -> Submission | None:
    """The same learner's graded submission of the same exercise just before this one (by
    time asked; at the same instant, the lower id came first)."""
    earlier = or_(
        col(Submission.requested_at) < submission.requested_at,
        and_(
            col(Submission.requested_at) == submission.requested_at,
            col(Submission.id) < (submission.id or 0),
        ),
    )
    stmt = (
        select(Submission)
        .where(Submission.user_id == submission.user_id)
        .where(Submission.exercise_slug == submission.exercise_slug)
        .where(Submission.status == SubmissionStatus.GRADED)
        .where(earlier)
        .order_by(col(Submission.requested_at).desc(), col(Submission.id).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


@dataclass(frozen=True)
class SinceLast:
    """ "Since your last submission": the one compared with, and what changed."""

    previous: Submission
    changes: CheckChanges


def learner_since_last(
    session: Session,
    submission: Submission,
    exercise: Exercise | None,
    *,
    now: datetime | None = None,
) -> SinceLast | None:
    """Checks newly passing and newly failing since the learner's previous graded submission,
    both compared as the learner sees them now (None without a graded pair)."""
    if submission.status != SubmissionStatus.GRADED:
        return None  # a page refreshed while grading runs costs no extra query
    current = learner_result(submission, exercise, now=now)
    previous = previous_graded(session, submission=submission) if current else None
    before = learner_result(previous, exercise, now=now) if previous else None
    if current is None or previous is None or before is None:
        return None
    return SinceLast(previous, check_changes(current, before))


@dataclass(frozen=True)
class HistoryEntry:
    submission: Submission
    score: float
    max_score: float

    @property
    def percent(self) -> float:
        return 100 * self.score / self.max_score if self.max_score > 0 else 0.0


def learner_score_history(
    submissions: list[Submission], exercise: Exercise | None, *, now: datetime | None = None
) -> list[HistoryEntry]:
    """The learner's graded scores (the ones they may see), oldest first, the latest
    MAX_HISTORY_POINTS of them. `submissions` are one learner's, of one exercise."""
    entries = []
    for submission in sorted(submissions, key=lambda s: (s.requested_at, s.id or 0)):
        score, max_score = learner_score(submission, exercise, now=now)
        if score is not None and max_score is not None:
            entries.append(HistoryEntry(submission, score, max_score))
    return entries[-MAX_HISTORY_POINTS:]


def learner_phase_seconds(submission: Submission) -> dict[str, float]:
    """Seconds per learner-facing phase, keyed by its label."""
    seconds = phase_seconds(submission)
    return {label: seconds[key] for key, label in LEARNER_PHASES.items() if key in seconds}


def phase_seconds(submission: Submission) -> dict[str, float]:
    """Every recorded phase, platform steps included (instructors' view and the API)."""
    if not submission.phase_seconds_json:
        return {}
    try:
        data = json.loads(submission.phase_seconds_json)
    except ValueError:
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


@dataclass(frozen=True)
class TimelineStep:
    status: str
    at: datetime
    detail: str


def timeline(session: Session, *, submission_id: int, with_details: bool) -> list[TimelineStep]:
    """Stored transitions, oldest first; details (worker names, platform errors) for instructors."""
    return [
        TimelineStep(event.status, event.at, event.detail if with_details else "")
        for event in queue.get_events(session, submission_id=submission_id)
    ]


def queue_position(session: Session, *, submission: Submission) -> int | None:
    """How many queued submissions are ahead of this one (None when it is not queued)."""
    if submission.status != SubmissionStatus.QUEUED or submission.queued_at is None:
        return None
    stmt = (
        select(func.count())
        .select_from(Submission)
        .where(Submission.status == SubmissionStatus.QUEUED)
        .where(col(Submission.queued_at) < submission.queued_at)
    )
    return int(session.exec(stmt).one())


@dataclass(frozen=True)
class SubmittedFile:
    name: str
    size: int
    text: str | None  # None when too large to show or not UTF-8 text


def submitted_files(submission: Submission, *, settings: Settings) -> list[SubmittedFile]:
    """The files the learner sent, for the instructor's view (only inside submissions_dir)."""
    root = Path(submission.source_dir)
    base = settings.submissions_dir.resolve()
    if not root.is_dir() or not root.resolve().is_relative_to(base):
        return []
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        text = None
        if size <= MAX_SHOWN_FILE_BYTES:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                text = None
        files.append(SubmittedFile(path.relative_to(root).as_posix(), size, text))
    return files


def status_counts(session: Session) -> dict[str, dict[str, int]]:
    """Exercise slug -> status -> how many submissions (the instructor's index)."""
    stmt = select(Submission.exercise_slug, Submission.status, func.count()).group_by(
        col(Submission.exercise_slug), col(Submission.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for slug, state, n in session.exec(stmt).all():
        counts.setdefault(slug, {})[state] = n
    return counts
