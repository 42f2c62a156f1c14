"""The dead letters: submissions the platform failed to grade on every attempt.

A submission that keeps failing for platform reasons (Docker away, a worker killed while
grading it, an exercise that left the course) ends in status `error` after `job_attempts`
attempts instead of being retried forever or dropped. Instructors list them with the reason
and queue them again once the cause is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from servelab.db.models import User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading.regrade import regrade
from servelab.grading.truncate import cap_text

_REASON_CHARS = 500
_LISTED = 500


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered submission, as the instructor's list shows it."""

    submission: Submission
    learner: User
    reason: str  # the last platform failure, shortened


def dead_letters(session: Session, *, limit: int = _LISTED) -> list[DeadLetter]:
    """The dead-lettered submissions, most recent first."""
    rows = session.exec(
        select(Submission, User)
        .join(User, col(User.id) == col(Submission.user_id))
        .where(Submission.status == SubmissionStatus.ERROR)
        .order_by(col(Submission.graded_at).desc(), col(Submission.id).desc())
        .limit(limit)
    ).all()
    return [
        DeadLetter(
            submission=submission,
            learner=learner,
            reason=cap_text(submission.log_excerpt or "no reason recorded", _REASON_CHARS),
        )
        for submission, learner in rows
    ]


def retry_dead_letters(session: Session, *, by: User) -> int:
    """Queue every dead-lettered submission again (attempts start afresh); how many."""
    ids = session.exec(select(Submission.id).where(Submission.status == SubmissionStatus.ERROR))
    retried = 0
    for submission_id in list(ids.all()):
        assert submission_id is not None
        regrade(session, submission_id=submission_id, by=by)
        retried += 1
    return retried
