"""An instructor's regrade: queue finished submissions again, one or a whole exercise's.

Its own small room: a write on the queue with the instructor's policy on top (who asked goes
in the timeline, running or waiting submissions are skipped). views.py only reads, and queue.py
is the mechanism (claims, leases) with no notion of who asks.
"""

from __future__ import annotations

from sqlmodel import Session

from servelab.db.models import User
from servelab.db.models.grading import Submission
from servelab.grading import queue
from servelab.grading.intake import SubmissionRefused
from servelab.grading.submission_limits import ACTIVE_STATUSES
from servelab.grading.views import list_submissions


def regrade(session: Session, *, submission_id: int, by: User) -> Submission:
    """Queue a finished submission again; refused (409) while it is still queued or running."""
    try:
        return queue.requeue(
            session, submission_id=submission_id, reason=f"regrade requested by {by.email}"
        )
    except queue.QueueError as exc:
        raise SubmissionRefused(f"Cannot regrade: {exc}.", 409) from None


def regrade_exercise(session: Session, *, exercise_slug: str, by: User) -> tuple[int, int]:
    """Queue every finished submission of an exercise again; returns (queued, skipped)."""
    queued = skipped = 0
    for submission in list_submissions(session, exercise_slug=exercise_slug):
        assert submission.id is not None
        if submission.status in ACTIVE_STATUSES:
            skipped += 1
            continue
        regrade(session, submission_id=submission.id, by=by)
        queued += 1
    return queued, skipped
