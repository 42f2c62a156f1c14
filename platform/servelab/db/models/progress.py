"""Learner progress and due-date tables: which lessons a learner opened, and the per-learner
due dates (extensions) instructors grant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from servelab.db.clock import utcnow


class LessonVisit(SQLModel, table=True):
    """A learner opened a lesson's page; written once, on the first visit (progress/visits.py)."""

    __tablename__ = "lesson_visit"

    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    lesson_slug: str = Field(max_length=100, primary_key=True)
    first_opened_at: datetime = Field(default_factory=utcnow)


class DueExtension(SQLModel, table=True):
    """One learner's own due date for one exercise, granted by an instructor; it replaces the
    exercise's `due` for that learner everywhere (grading/due_dates.py)."""

    __tablename__ = "due_extension"
    __table_args__ = (
        UniqueConstraint("exercise_slug", "user_id", name="uq_due_extension_exercise_user"),
    )

    id: int | None = Field(default=None, primary_key=True)
    exercise_slug: str = Field(max_length=100, index=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    due_at: datetime
    # Who granted it; kept as history when that instructor's account is deleted.
    granted_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    granted_at: datetime = Field(default_factory=utcnow)


__all__ = ["DueExtension", "LessonVisit"]
