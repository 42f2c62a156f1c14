"""Getting jobs back from workers that stopped: the watchdog, a restart, a shutdown.

A dead worker stops renewing its lease and a hung one passes its hard deadline (the watchdog,
`recover_expired`); after a restart, jobs whose worker is known dead come back at once
(`recover_interrupted`); a worker that shuts down without draining hands its jobs back
(`release_claims`); a Celery task delivered again after its worker died takes its job back at
once (`recover_abandoned`). Each uses the queue's compare-and-set updates, so a worker that wakes up
late cannot overwrite what replaced it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from servelab.db.clock import utcnow
from servelab.db.models.grading import RUNNING_STATUSES, Submission, SubmissionStatus
from servelab.grading.queue import add_event, retry_or_error


def recover_expired(
    session: Session, *, max_attempts: int, now: datetime | None = None
) -> list[tuple[int, SubmissionStatus]]:
    """The watchdog: fail over every running submission past its lease or hard deadline.

    A dead worker (crash, restart) stops renewing its lease, so its jobs come back here;
    a hung one passes its deadline. Each is queued again, or marked error when out of attempts.
    """
    now = now or utcnow()
    stmt = select(Submission.id, Submission.lease_until, Submission.deadline_at).where(
        col(Submission.status).in_(list(RUNNING_STATUSES))
    )
    stale: list[tuple[int, str]] = []
    for submission_id, lease_until, deadline_at in session.exec(stmt).all():
        assert submission_id is not None
        if deadline_at is not None and deadline_at < now:
            stale.append((submission_id, "watchdog: it ran past its hard deadline"))
        elif lease_until is None or lease_until < now:
            stale.append((submission_id, "watchdog: its worker stopped responding"))
    return _fail_over_each(session, stale, max_attempts=max_attempts)


def release_claims(session: Session, *, worker_id: str) -> int:
    """Put this worker's unfinished jobs back in the queue (graceful shutdown without drain)."""
    rows = session.exec(
        select(Submission).where(
            col(Submission.status).in_(list(RUNNING_STATUSES)), Submission.worker_id == worker_id
        )
    ).all()
    released = 0
    for row in rows:
        assert row.id is not None
        now = utcnow()
        result = session.exec(
            update(Submission)
            .where(col(Submission.id) == row.id)
            .where(col(Submission.lease_token) == row.lease_token)
            .values(
                status=SubmissionStatus.QUEUED,
                queued_at=now,
                updated_at=now,
                lease_token=None,
                lease_until=None,
                worker_id=None,
                attempts=max(row.attempts - 1, 0),
            )
        )
        if result.rowcount == 1:
            add_event(session, row.id, SubmissionStatus.QUEUED, "worker shut down; queued again")
            released += 1
    session.commit()
    return released


def recover_interrupted(
    session: Session, *, is_dead: Callable[[str], bool], max_attempts: int
) -> list[tuple[int, SubmissionStatus]]:
    """After a restart: fail over running jobs whose worker is known dead, without
    waiting for their lease to expire. Each is queued again (or error when out of attempts)."""
    stmt = select(Submission.id, Submission.worker_id).where(
        col(Submission.status).in_(list(RUNNING_STATUSES))
    )
    orphaned = [
        (submission_id, "resumed: its worker stopped (restart or crash)")
        for submission_id, worker_id in session.exec(stmt).all()
        if submission_id is not None and (worker_id is None or is_dead(worker_id))
    ]
    return _fail_over_each(session, orphaned, max_attempts=max_attempts)


def recover_abandoned(
    session: Session,
    *,
    submission_id: int,
    is_dead: Callable[[str], bool],
    max_attempts: int,
    now: datetime | None = None,
) -> SubmissionStatus | None:
    """For a task delivered again: fail the job over if it runs under a worker that is gone.

    Gone means known dead on this host, or past its lease or hard deadline. A job held by a
    live worker is left alone (its message was a duplicate). Returns the row's status after
    (queued: ready to claim), or None when there is no such submission.
    """
    row = session.get(Submission, submission_id)
    if row is None:
        return None
    session.refresh(row)
    status = SubmissionStatus(row.status)
    if status not in RUNNING_STATUSES:
        return status
    now = now or utcnow()
    expired = (row.lease_until is None or row.lease_until < now) or (
        row.deadline_at is not None and row.deadline_at < now
    )
    if not expired and not (row.worker_id is None or is_dead(row.worker_id)):
        return status
    recovered = retry_or_error(
        session,
        submission_id=submission_id,
        where_token=row.lease_token,
        detail="delivered again: its worker stopped (killed or lost)",
        max_attempts=max_attempts,
    )
    if recovered is None:  # another worker recovered or claimed it first
        session.refresh(row)
        return SubmissionStatus(row.status)
    return recovered


def _fail_over_each(
    session: Session, jobs: list[tuple[int, str]], *, max_attempts: int
) -> list[tuple[int, SubmissionStatus]]:
    """Retry (or error) each (submission id, why) whoever holds it; returns what changed."""
    recovered: list[tuple[int, SubmissionStatus]] = []
    for submission_id, detail in jobs:
        status = retry_or_error(
            session,
            submission_id=submission_id,
            where_token=None,
            detail=detail,
            max_attempts=max_attempts,
        )
        if status is not None:
            recovered.append((submission_id, status))
    return recovered
