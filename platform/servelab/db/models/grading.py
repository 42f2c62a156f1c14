"""Grading tables: a submission (also the durable queue job) and its state transitions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, false
from sqlmodel import Field, SQLModel

from servelab.db.clock import utcnow


class SubmissionStatus(StrEnum):
    """queued → preparing → training → starting → testing → graded | failed | error.

    `error` is the dead-letter state: the platform failed on every attempt (`job_attempts`);
    the reason is in `log_excerpt` and the timeline, and an instructor can queue it again.
    """

    QUEUED = "queued"
    PREPARING = "preparing"
    TRAINING = "training"
    STARTING = "starting"
    TESTING = "testing"
    GRADED = "graded"
    FAILED = "failed"
    ERROR = "error"

    @property
    def is_running(self) -> bool:
        return self in RUNNING_STATUSES

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


RUNNING_STATUSES = frozenset(
    {
        SubmissionStatus.PREPARING,
        SubmissionStatus.TRAINING,
        SubmissionStatus.STARTING,
        SubmissionStatus.TESTING,
    }
)
FINAL_STATUSES = frozenset(
    {SubmissionStatus.GRADED, SubmissionStatus.FAILED, SubmissionStatus.ERROR}
)


class Submission(SQLModel, table=True):
    """One learner submission; its row is also the durable queue job that grades it.

    The six timestamps follow the grading job's life: requested (row created), queued,
    received (claimed by a worker), started (sandbox work began), finished (pipeline
    ended) and graded (result stored). `lease_token` identifies the current claim so a
    worker that lost its lease cannot overwrite the result of a later attempt.
    """

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    exercise_slug: str = Field(max_length=100, index=True)
    status: str = Field(default=SubmissionStatus.QUEUED, max_length=20, index=True)
    source_dir: str = Field(max_length=500)

    score: float | None = None  # the grade (the final part, when hidden data is split)
    max_score: float | None = None
    # the feedback part's score, what a learner sees before the due date (split hidden data)
    feedback_score: float | None = None
    feedback_max_score: float | None = None
    result_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    learner_message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    log_excerpt: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # What train.py printed (capped). Training sees only public data, before any hidden request
    # exists, so unlike the service's log it is always the learner's to read.
    train_log: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    phase_seconds_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))

    attempts: int = 0
    worker_id: str | None = Field(default=None, max_length=100)
    lease_token: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    deadline_at: datetime | None = None
    # Celery mode: when this queued row was last handed to the broker. The row is the job and
    # the message only a wake-up call, so a row queued since its last dispatch (or dispatched
    # long ago: the broker may have lost it) is sent again (grading/dispatch.py).
    dispatched_at: datetime | None = None
    # An instructor's regrade (grading/regrade.py): the score before it (None when the
    # submission had no grade then) and when it was asked for; the dashboard shows the change.
    previous_score: float | None = None
    regraded_at: datetime | None = None
    # Sent after the learner's due date (their extension's, else the exercise's); set once at
    # intake (grading/intake.py) and kept through regrades.
    late: bool = Field(default=False, sa_column_kwargs={"server_default": false()})

    requested_at: datetime = Field(default_factory=utcnow)
    queued_at: datetime | None = None
    received_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    graded_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def state(self) -> SubmissionStatus:
        return SubmissionStatus(self.status)


class SubmissionEvent(SQLModel, table=True):
    """One stored state transition (or notable step) of a submission, with its time."""

    __tablename__ = "submission_event"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True, ondelete="CASCADE")
    status: str = Field(max_length=20)
    at: datetime = Field(default_factory=utcnow)
    detail: str = Field(default="", max_length=2000)


__all__ = [
    "FINAL_STATUSES",
    "RUNNING_STATUSES",
    "Submission",
    "SubmissionEvent",
    "SubmissionStatus",
]
