"""Quiz tables: attempts (with the seed that fixed their order) and scored answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from servelab.db.clock import utcnow


class AttemptStatus(StrEnum):
    """open → submitted | expired (time limit passed before a submission arrived)."""

    OPEN = "open"
    SUBMITTED = "submitted"
    EXPIRED = "expired"


class QuizAttempt(SQLModel, table=True):
    """One try at one quiz by one learner. `number` counts that learner's tries (1, 2, ...)."""

    __tablename__ = "quiz_attempt"
    __table_args__ = (
        UniqueConstraint("user_id", "quiz_slug", "number", name="uq_quiz_attempt_user_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    quiz_slug: str = Field(max_length=100, index=True)
    number: int
    seed: int
    status: str = Field(default=AttemptStatus.OPEN, max_length=20)
    started_at: datetime = Field(default_factory=utcnow)
    deadline_at: datetime | None = None
    submitted_at: datetime | None = None
    score: float | None = None
    max_score: float
    passed: bool | None = None
    answers_digest: str | None = Field(default=None, max_length=64)

    @property
    def state(self) -> AttemptStatus:
        return AttemptStatus(self.status)

    @property
    def seconds_taken(self) -> float | None:
        """From start to submission; None while open or when the time ran out."""
        if self.submitted_at is None:
            return None
        return round((self.submitted_at - self.started_at).total_seconds(), 1)

    @property
    def percent(self) -> float | None:
        if self.score is None or not self.max_score:
            return None
        return round(100 * self.score / self.max_score, 1)


class QuizAnswer(SQLModel, table=True):
    """A scored response to one question; `response_json` is the normalised response."""

    __tablename__ = "quiz_answer"
    __table_args__ = (
        UniqueConstraint("attempt_id", "question_id", name="uq_quiz_answer_attempt_question"),
    )

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="quiz_attempt.id", index=True, ondelete="CASCADE")
    question_id: str = Field(max_length=64)
    response_json: str = Field(sa_column=Column(Text, nullable=False))
    earned: float
    points: float


__all__ = ["AttemptStatus", "QuizAnswer", "QuizAttempt"]
