"""How much one learner may submit, and how many uploads the server unpacks at once.

Two limits per learner: a few submissions waiting or running at once (across exercises), and
`[limits] submissions_per_hour` per exercise (each graded run reports on hidden data, so tries
must cost something). Both are counted while the learner's user row is locked, in the
transaction that inserts the submission, so simultaneous posts cannot all pass the count.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from servelab.db.clock import utcnow
from servelab.db.models import User
from servelab.db.models.grading import RUNNING_STATUSES, Submission, SubmissionStatus

# How many submissions one person may have waiting or running at once.
MAX_ACTIVE_SUBMISSIONS = 3
ACTIVE_STATUSES = frozenset({SubmissionStatus.QUEUED, *RUNNING_STATUSES})
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class LimitReached:
    """Why a learner must wait, for the learner, and when to try again (Retry-After)."""

    message: str
    retry_after_seconds: int


def lock_user_submissions(session: Session, *, user_id: int) -> None:
    """Serialise one user's submissions until this transaction ends.

    A no-op UPDATE of the user's row takes PostgreSQL's row lock (a second poster waits on it)
    and SQLite's database write lock (the pysqlite driver begins the transaction right before
    this statement, so the wait uses the busy timeout and later reads see the newest rows).
    """
    stmt = (
        update(User)
        .where(col(User.id) == user_id)
        .values(display_name=User.display_name)
        .execution_options(synchronize_session=False)
    )
    session.exec(stmt)


def active_count(session: Session, *, user_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(Submission)
        .where(Submission.user_id == user_id)
        .where(col(Submission.status).in_(list(ACTIVE_STATUSES)))
    )
    return int(session.exec(stmt).one())


def _as_utc(value: datetime) -> datetime:
    """SQLite gives naive UTC back; PostgreSQL gives the session's time zone, maybe not UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def submitted_in_last_hour(
    session: Session, *, user_id: int, exercise_slug: str, now: datetime
) -> list[datetime]:
    """When the user submitted to this exercise in the hour before `now`, oldest first.

    `requested_at` is set once, when the learner submits: an instructor's regrade re-queues
    the same row and does not count again.
    """
    stmt = (
        select(Submission.requested_at)
        .where(Submission.user_id == user_id)
        .where(Submission.exercise_slug == exercise_slug)
        .where(col(Submission.requested_at) > now - HOUR)
        .order_by(col(Submission.requested_at))
    )
    return [_as_utc(at) for at in session.exec(stmt).all()]


def limit_reached(
    session: Session,
    *,
    user: User,
    exercise_slug: str,
    per_hour: int,
    now: datetime | None = None,
) -> LimitReached | None:
    """The first limit this new submission would break, or None when it may be accepted.

    Instructors are not held to the hourly limit (they try their own exercises); everyone is
    held to the active limit, which protects the workers.
    """
    assert user.id is not None
    now = now or utcnow()
    if active_count(session, user_id=user.id) >= MAX_ACTIVE_SUBMISSIONS:
        return LimitReached(
            f"You already have {MAX_ACTIVE_SUBMISSIONS} submissions waiting or being graded. "
            "Wait for one of them to finish, then submit again.",
            retry_after_seconds=60,
        )
    if user.is_instructor:
        return None
    recent = submitted_in_last_hour(session, user_id=user.id, exercise_slug=exercise_slug, now=now)
    if len(recent) < per_hour:
        return None
    # The submission that must leave the hour's window before one more fits in it.
    allowed_at = recent[len(recent) - per_hour] + HOUR
    seconds = max(1, math.ceil((allowed_at - now).total_seconds()))
    minutes = math.ceil(seconds / 60)
    return LimitReached(
        f"You have submitted to this exercise {len(recent)} times in the last hour; it allows "
        f"{per_hour} per hour. Your next submission is allowed at "
        f"{allowed_at:%H:%M} UTC (in {minutes} minute{'s' if minutes != 1 else ''}). "
        "Meanwhile, try your service locally with the exercise's public examples.",
        retry_after_seconds=seconds,
    )


@cache
def _intake_slots(size: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(size)


class IntakeBusy(Exception):
    """Every unpacking slot stayed taken for the whole wait."""


@contextmanager
def intake_slot(*, slots: int, wait_seconds: float) -> Iterator[None]:
    """Hold one of `slots` places for unpacking and checking an upload (memory and CPU heavy).

    Raises IntakeBusy when none frees up within `wait_seconds`, rather than queueing unboundedly.
    """
    semaphore = _intake_slots(max(1, slots))
    if not semaphore.acquire(timeout=wait_seconds):
        raise IntakeBusy
    try:
        yield
    finally:
        semaphore.release()
