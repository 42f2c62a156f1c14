"""The durable grading queue: the submission table, claimed with a lease.

Portable SQL only (compare-and-set UPDATEs checked by rowcount), so the same code works
on SQLite and PostgreSQL. A claim carries a random lease token; every later write by the
worker is conditioned on it, so a worker that lost its job to the watchdog cannot
overwrite the result of the attempt that replaced it. This table is the queue of both
backends: the embedded pool and the database `servelab worker` poll it (`claim_next`); under
Celery a task per submission claims its own row (`claim_submission`), the broker's message
being only a wake-up call (`dispatch`). Its functions: enqueue, requeue, claim, record,
complete, fail over. Getting jobs back from workers that stopped is `recovery`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from servelab.db.clock import utcnow
from servelab.db.models.grading import (
    RUNNING_STATUSES,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from servelab.grading.outcome import GradeOutcome

_DETAIL_MAX = 2000
RECEIVED_EVENT = "received"  # event status: a worker claimed the job (its status is preparing)


class QueueError(Exception):
    """A queue operation that cannot be done (unknown submission, regrade while running)."""


@dataclass(frozen=True)
class Claim:
    """What a worker holds while grading one submission."""

    submission_id: int
    token: str
    worker_id: str
    exercise_slug: str
    source_dir: str
    attempts: int


def add_event(session: Session, submission_id: int, status: str, detail: str = "") -> None:
    """Record a transition in the submission's timeline (committed with the caller's change)."""
    session.add(
        SubmissionEvent(
            submission_id=submission_id, status=status, at=utcnow(), detail=detail[:_DETAIL_MAX]
        )
    )


def enqueue_submission(
    session: Session, *, user_id: int, exercise_slug: str, source_dir: str, late: bool = False
) -> Submission:
    """Persist a new submission and queue it for grading (committed before it returns);
    `late`: sent after the learner's due date (intake decides)."""
    now = utcnow()
    submission = Submission(
        user_id=user_id,
        exercise_slug=exercise_slug,
        source_dir=source_dir,
        status=SubmissionStatus.QUEUED,
        late=late,
        requested_at=now,
        queued_at=now,
        updated_at=now,
    )
    session.add(submission)
    session.flush()
    assert submission.id is not None
    add_event(session, submission.id, SubmissionStatus.QUEUED, "submitted")
    session.commit()
    session.refresh(submission)
    return submission


def requeue(
    session: Session, *, submission_id: int, reason: str = "regrade requested"
) -> Submission:
    """Queue a finished submission again (a regrade); its old result is replaced when done."""
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise QueueError(f"submission {submission_id} does not exist")
    if submission.status in RUNNING_STATUSES or submission.status == SubmissionStatus.QUEUED:
        raise QueueError(f"submission {submission_id} is already {submission.status}")
    now = utcnow()
    submission.status = SubmissionStatus.QUEUED
    submission.attempts = 0
    submission.queued_at = now
    submission.updated_at = now
    for field in ("received_at", "started_at", "finished_at", "graded_at", "lease_token"):
        setattr(submission, field, None)
    add_event(session, submission_id, SubmissionStatus.QUEUED, reason)
    session.add(submission)
    session.commit()
    session.refresh(submission)
    return submission


def get_submission(session: Session, *, submission_id: int) -> Submission | None:
    """The submission row, or None (callers check ownership before showing it)."""
    return session.get(Submission, submission_id)


def get_events(session: Session, *, submission_id: int) -> list[SubmissionEvent]:
    """Every stored transition of a submission, oldest first."""
    stmt = (
        select(SubmissionEvent)
        .where(SubmissionEvent.submission_id == submission_id)
        .order_by(col(SubmissionEvent.at), col(SubmissionEvent.id))
    )
    return list(session.exec(stmt).all())


def queued_count(session: Session) -> int:
    """How many submissions wait for a worker."""
    stmt = select(Submission.id).where(Submission.status == SubmissionStatus.QUEUED)
    return len(session.exec(stmt).all())


def claim_next(
    session: Session,
    *,
    worker_id: str,
    lease_seconds: float,
    deadline_seconds: Callable[[str], float],
) -> Claim | None:
    """Claim the oldest queued submission for worker_id, or None when the queue is empty.

    The claim moves it to preparing with a lease (renewed by heartbeat) and a hard
    deadline (`deadline_seconds(exercise_slug)` from now) past which the watchdog fails it over.
    """
    candidates = session.exec(
        select(Submission.id, Submission.exercise_slug)
        .where(Submission.status == SubmissionStatus.QUEUED)
        .order_by(col(Submission.queued_at), col(Submission.id))
        .limit(5)
    ).all()
    for submission_id, slug in candidates:
        assert submission_id is not None
        claim = _claim(session, submission_id, worker_id, lease_seconds, deadline_seconds(slug))
        if claim is not None:
            return claim
    return None


def claim_submission(
    session: Session,
    *,
    submission_id: int,
    worker_id: str,
    lease_seconds: float,
    deadline_seconds: Callable[[str], float],
) -> Claim | None:
    """Claim this submission if it is queued (a Celery task names its job), else None."""
    slug = session.exec(
        select(Submission.exercise_slug).where(col(Submission.id) == submission_id)
    ).first()
    if slug is None:
        return None
    return _claim(session, submission_id, worker_id, lease_seconds, deadline_seconds(slug))


def _claim(
    session: Session, submission_id: int, worker_id: str, lease_seconds: float, deadline: float
) -> Claim | None:
    """queued → preparing for worker_id with a new lease token; None when another was first."""
    now = utcnow()
    token = secrets.token_hex(16)
    result = session.exec(
        update(Submission)
        .where(col(Submission.id) == submission_id)
        .where(col(Submission.status) == SubmissionStatus.QUEUED)
        .values(
            status=SubmissionStatus.PREPARING,
            worker_id=worker_id[:100],
            lease_token=token,
            lease_until=now + timedelta(seconds=lease_seconds),
            deadline_at=now + timedelta(seconds=deadline),
            attempts=Submission.attempts + 1,
            received_at=now,
            started_at=None,
            finished_at=None,
            graded_at=None,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        session.rollback()
        return None
    add_event(session, submission_id, RECEIVED_EVENT, f"claimed by {worker_id}")
    session.commit()
    row = session.get(Submission, submission_id)
    assert row is not None
    session.refresh(row)
    return Claim(
        submission_id=submission_id,
        token=token,
        worker_id=worker_id,
        exercise_slug=row.exercise_slug,
        source_dir=row.source_dir,
        attempts=row.attempts,
    )


def _owned(claim: Claim):  # type: ignore[no-untyped-def]
    return (
        update(Submission)
        .where(col(Submission.id) == claim.submission_id)
        .where(col(Submission.lease_token) == claim.token)
    )


def record_phase(
    session: Session, claim: Claim, status: SubmissionStatus, detail: str = ""
) -> bool:
    """Store a running-phase transition; False when the claim was lost (stop working on it)."""
    now = utcnow()
    values: dict[str, object] = {"status": status, "updated_at": now}
    if status == SubmissionStatus.PREPARING:
        values["started_at"] = now
    result = session.exec(_owned(claim).values(**values))
    if result.rowcount != 1:
        session.rollback()
        return False
    add_event(session, claim.submission_id, status, detail)
    session.commit()
    return True


def heartbeat(session: Session, claim: Claim, *, lease_seconds: float) -> bool:
    """Extend the lease of a claim still being worked on; False when it was lost."""
    now = utcnow()
    result = session.exec(_owned(claim).values(lease_until=now + timedelta(seconds=lease_seconds)))
    session.commit()
    return result.rowcount == 1


def complete(
    session: Session, claim: Claim, outcome: GradeOutcome, *, finished_at: datetime
) -> bool:
    """Store the outcome (graded or failed), replacing any partial one from earlier runs."""
    now = utcnow()
    result = session.exec(
        _owned(claim).values(
            **outcome.stored_columns(),
            finished_at=finished_at,
            graded_at=now,
            updated_at=now,
            lease_token=None,
            lease_until=None,
        )
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    add_event(session, claim.submission_id, outcome.status, outcome.learner_message[:200])
    session.commit()
    return True


def fail_over(
    session: Session,
    claim: Claim,
    *,
    detail: str,
    max_attempts: int,
    phase_seconds: dict | None = None,
) -> SubmissionStatus | None:
    """A platform failure during a claim: queue it again, or mark it error when out of attempts.

    Returns the new status, or None when the claim was already lost.
    """
    return retry_or_error(
        session,
        submission_id=claim.submission_id,
        where_token=claim.token,
        detail=detail,
        max_attempts=max_attempts,
        phase_seconds=phase_seconds,
    )


def retry_or_error(
    session: Session,
    *,
    submission_id: int,
    where_token: str | None,
    detail: str,
    max_attempts: int,
    phase_seconds: dict | None = None,
) -> SubmissionStatus | None:
    """Queue a running submission again, or mark it error when out of attempts.

    With `where_token`, only while that claim still holds it; without, whoever holds it.
    """
    row = session.get(Submission, submission_id)
    if row is None:
        return None
    session.refresh(row)
    if where_token is not None and row.lease_token != where_token:
        return None
    now = utcnow()
    retry = row.attempts < max_attempts
    stmt = update(Submission).where(col(Submission.id) == submission_id)
    stmt = stmt.where(col(Submission.lease_token) == row.lease_token)
    common: dict[str, object] = {
        "lease_token": None,
        "lease_until": None,
        "updated_at": now,
        "worker_id": None,
    }
    if retry:
        new_status = SubmissionStatus.QUEUED
        values: dict[str, object] = {**common, "status": new_status, "queued_at": now}
        event_detail = f"retrying after a platform problem: {detail}"
    else:
        new_status = SubmissionStatus.ERROR
        values = {
            **common,
            "status": new_status,
            "finished_at": now,
            "graded_at": now,
            "score": None,
            "max_score": None,
            "result_json": None,
            "learner_message": (
                "ServeLab could not grade this submission because of a problem on our side, "
                "not in your code. Instructors have the details; you can submit again."
            ),
            "log_excerpt": detail[:_DETAIL_MAX],
        }
        if phase_seconds is not None:
            values["phase_seconds_json"] = json.dumps(phase_seconds)
        event_detail = f"platform error after {row.attempts} attempt(s): {detail}"
    result = session.exec(stmt.values(**values))
    if result.rowcount != 1:
        session.rollback()
        return None
    add_event(session, submission_id, new_status, event_detail)
    session.commit()
    return new_status
