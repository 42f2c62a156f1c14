"""An instructor's regrade: queue finished submissions again, one, a selection or a whole
exercise's, and follow the batch.

Its own small room: a write on the queue with the instructor's policy on top (who asked goes
in the timeline, running or waiting submissions are skipped, the score before the regrade is
kept for the dashboard). views.py only reads, and queue.py is the mechanism (claims, leases)
with no notion of who asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from servelab.db.clock import utcnow
from servelab.db.models import User
from servelab.db.models.grading import (
    FINAL_STATUSES,
    RUNNING_STATUSES,
    Submission,
    SubmissionStatus,
)
from servelab.grading import queue
from servelab.grading.intake import SubmissionRefused
from servelab.grading.submission_limits import ACTIVE_STATUSES

# One form post regrades at most this many chosen submissions (a dashboard page holds fewer).
MAX_SELECTED = 200


def regrade(
    session: Session, *, submission_id: int, by: User, at: datetime | None = None
) -> Submission:
    """Queue a finished submission again; refused (409) while it is still queued or running.

    The score it had (when graded) is kept as `previous_score`, and `regraded_at` marks the
    batch (`at`, shared by the submissions of one request) the dashboard follows.
    """
    submission = session.get(Submission, submission_id)
    if submission is not None and submission.status not in ACTIVE_STATUSES:
        graded = submission.status == SubmissionStatus.GRADED
        submission.previous_score = submission.score if graded else None
        submission.regraded_at = at or utcnow()
    try:
        return queue.requeue(
            session, submission_id=submission_id, reason=f"regrade requested by {by.email}"
        )
    except queue.QueueError as exc:
        raise SubmissionRefused(f"Cannot regrade: {exc}.", 409) from None


@dataclass(frozen=True)
class Batch:
    """What one regrade request did: how many it queued and skipped, and its time mark."""

    queued: int
    skipped: int
    at: datetime


def _regrade_each(session: Session, submissions: Iterable[Submission], *, by: User) -> Batch:
    at = utcnow()
    queued = skipped = 0
    for submission in submissions:
        assert submission.id is not None
        if submission.status in ACTIVE_STATUSES:
            skipped += 1
            continue
        regrade(session, submission_id=submission.id, by=by, at=at)
        queued += 1
    return Batch(queued, skipped, at)


def regrade_exercise(session: Session, *, exercise_slug: str, by: User) -> Batch:
    """Queue every finished submission of an exercise again (running ones are skipped)."""
    stmt = select(Submission).where(Submission.exercise_slug == exercise_slug)
    return _regrade_each(session, session.exec(stmt.order_by(col(Submission.id))).all(), by=by)


class SelectionRefused(ValueError):
    """A selection that cannot be regraded as sent (too many, or not this exercise's)."""


def regrade_selected(
    session: Session, *, exercise_slug: str, submission_ids: list[int], by: User
) -> Batch:
    """Queue the chosen submissions of one exercise again, all or none.

    Every id must name a submission of this exercise (an id of another exercise, or none,
    refuses the whole selection: the form only offers this exercise's); at most MAX_SELECTED.
    """
    wanted = sorted(set(submission_ids))
    if not wanted:
        raise SelectionRefused("Tick at least one submission to regrade.")
    if len(wanted) > MAX_SELECTED:
        raise SelectionRefused(
            f"At most {MAX_SELECTED} submissions can be regraded at once; you chose "
            f"{len(wanted)}. Use 'Regrade all' for the whole exercise."
        )
    stmt = (
        select(Submission)
        .where(col(Submission.id).in_(wanted))
        .where(Submission.exercise_slug == exercise_slug)
        .order_by(col(Submission.id))
    )
    found = list(session.exec(stmt).all())
    missing = sorted(set(wanted) - {s.id for s in found})
    if missing:
        shown = ", ".join(str(i) for i in missing[:10])
        raise SelectionRefused(
            f"Not submissions of '{exercise_slug}': {shown}. Nothing was regraded; "
            "reload the dashboard and choose again."
        )
    return _regrade_each(session, found, by=by)


@dataclass(frozen=True)
class BatchProgress:
    """Where the submissions regraded since a batch's mark stand now."""

    queued: int
    running: int
    done: int

    @property
    def total(self) -> int:
        return self.queued + self.running + self.done

    @property
    def finished(self) -> bool:
        return self.queued == 0 and self.running == 0


def batch_progress(session: Session, *, exercise_slug: str, since: datetime) -> BatchProgress:
    """Counts by state of the exercise's submissions regraded at or after `since`."""
    stmt = (
        select(Submission.status, func.count())
        .where(Submission.exercise_slug == exercise_slug)
        .where(col(Submission.regraded_at) >= since)
        .group_by(col(Submission.status))
    )
    counts = {status: int(n) for status, n in session.exec(stmt).all()}
    return BatchProgress(
        queued=counts.get(SubmissionStatus.QUEUED, 0),
        running=sum(counts.get(s, 0) for s in RUNNING_STATUSES),
        done=sum(counts.get(s, 0) for s in FINAL_STATUSES),
    )
