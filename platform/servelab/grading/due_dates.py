"""Each learner's due date: the exercise's `due`, or the extension an instructor granted them.

Every learner-facing decision reads the learner's own date through `learner_exercise(s)`: an
Exercise whose `due` is theirs, so `is_past_due`, `views.learner_score` / `learner_result`
(the after_due and hidden_split reveal) and the templates need no second notion of "due".
Late marking and the late policy's refusal at intake use `effective_due` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from servelab.content.exercise import Exercise
from servelab.db.clock import utcnow
from servelab.db.models import User
from servelab.db.models.grading import Submission
from servelab.db.models.progress import DueExtension


class ExtensionRefused(Exception):
    """An extension that cannot be granted; `message` is for the instructor, as is."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def extension_for(session: Session, *, exercise_slug: str, user_id: int) -> DueExtension | None:
    stmt = select(DueExtension).where(
        DueExtension.exercise_slug == exercise_slug, DueExtension.user_id == user_id
    )
    return session.exec(stmt).first()


def effective_due(
    session: Session, exercise: Exercise, *, exercise_slug: str, user_id: int
) -> datetime | None:
    """The learner's due date: their extension, else the exercise's (None: no due date)."""
    if exercise.due is None:
        return None  # an extension only moves a due date; none is granted without one
    extension = extension_for(session, exercise_slug=exercise_slug, user_id=user_id)
    return _aware(extension.due_at) if extension is not None else exercise.due


def learner_exercise(
    session: Session, exercise: Exercise, *, exercise_slug: str, user_id: int
) -> Exercise:
    """The exercise as this learner sees it (their due date); one query, none without a due."""
    due = effective_due(session, exercise, exercise_slug=exercise_slug, user_id=user_id)
    return exercise.for_learner(due)


def learner_exercises(
    session: Session, exercises: Mapping[str, Exercise], *, user_id: int
) -> dict[str, Exercise]:
    """Every exercise as this learner sees it, with one query for all their extensions."""
    if not any(exercise.due is not None for exercise in exercises.values()):
        return dict(exercises)
    stmt = select(DueExtension).where(DueExtension.user_id == user_id)
    granted = {e.exercise_slug: _aware(e.due_at) for e in session.exec(stmt)}
    return {
        slug: exercise.for_learner(granted[slug])
        if slug in granted and exercise.due is not None
        else exercise
        for slug, exercise in exercises.items()
    }


def submission_exercise(
    session: Session, exercises: Mapping[str, Exercise], submission: Submission
) -> Exercise | None:
    """The exercise as the submission's learner sees it (their due date), whoever is looking:
    an instructor viewing "what the learner sees" sees that learner's reveal."""
    exercise = exercises.get(submission.exercise_slug)
    if exercise is None:
        return None
    return learner_exercise(
        session, exercise, exercise_slug=submission.exercise_slug, user_id=submission.user_id
    )


def is_late(due: datetime | None, *, at: datetime | None = None) -> bool:
    """Is work sent at `at` (now) after the due date `due`?"""
    return due is not None and (at or utcnow()) > due


def late_refusal(due: datetime) -> str:
    return (
        f"The due date of this exercise has passed ({due.strftime('%Y-%m-%d %H:%M UTC')}) and "
        "it does not accept late work, so nothing was submitted. Ask your instructor for an "
        "extension if you need more time."
    )


@dataclass(frozen=True)
class ExtensionRow:
    extension: DueExtension
    learner: User
    granted_by: User | None


def list_extensions(session: Session, *, exercise_slug: str) -> list[ExtensionRow]:
    """An exercise's extensions with their learners, by learner email."""
    extensions = list(
        session.exec(select(DueExtension).where(DueExtension.exercise_slug == exercise_slug))
    )
    ids = {e.user_id for e in extensions} | {e.granted_by for e in extensions if e.granted_by}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))}
    rows = [
        ExtensionRow(e, users[e.user_id], users.get(e.granted_by) if e.granted_by else None)
        for e in extensions
    ]
    return sorted(rows, key=lambda row: row.learner.email)


def grant_extension(
    session: Session,
    exercise: Exercise,
    *,
    exercise_slug: str,
    learner: User,
    due_at: datetime,
    by: User,
) -> DueExtension:
    """Give `learner` their own due date (replacing an earlier extension); committed."""
    if exercise.due is None:
        raise ExtensionRefused(
            "This exercise has no due date, so there is nothing to extend. Add `due` to its "
            "exercise.toml first."
        )
    due_at = _aware(due_at)
    if due_at <= exercise.due:
        raise ExtensionRefused(
            f"An extension must end after the exercise's due date "
            f"({exercise.due.strftime('%Y-%m-%d %H:%M UTC')}); choose a later date."
        )
    assert learner.id is not None
    extension = extension_for(session, exercise_slug=exercise_slug, user_id=learner.id)
    if extension is None:
        extension = DueExtension(exercise_slug=exercise_slug, user_id=learner.id, due_at=due_at)
    extension.due_at = due_at
    extension.granted_by = by.id
    extension.granted_at = utcnow()
    session.add(extension)
    session.commit()
    session.refresh(extension)
    return extension


def revoke_extension(session: Session, *, exercise_slug: str, extension_id: int) -> bool:
    """Remove one extension of this exercise; False when there is none with that id here."""
    extension = session.get(DueExtension, extension_id)
    if extension is None or extension.exercise_slug != exercise_slug:
        return False
    session.delete(extension)
    session.commit()
    return True
