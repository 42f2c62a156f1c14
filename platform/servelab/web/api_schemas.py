"""What the JSON API under /api/v1 sends: one schema per response, one shape per error.

Every 4xx is `ErrorBody` (`{"detail": "what happened, what to do"}`), except 422, which
lists the fields at fault (`ValidationErrorBody`, the shape of FastAPI's own validation
errors, trimmed to what is safe to echo: web/errors.py). The routes list both in their
OpenAPI `responses` (`error_responses`), so /openapi.json documents real shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session

from servelab.content.exercise import Exercise
from servelab.db.models import User
from servelab.db.models.grading import Submission
from servelab.grading import views
from servelab.grading.results import ResultDocument

API_PREFIX = "/api/v1"


class ErrorBody(BaseModel):
    """Every 4xx but 422: what happened and what to do, for a person to read."""

    detail: str


class FieldError(BaseModel):
    """One problem with the request: where (`["body", "files", "x.py"]`), and what."""

    loc: list[str]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """422: the problems, at most 20; a last item of type `too_many_errors` counts the rest."""

    detail: list[FieldError]


_ERROR_TEXT = {
    400: "The request cannot be carried out as sent; `detail` says why.",
    401: "Not logged in and no (valid) API token sent.",
    403: "Not allowed: a missing CSRF header on a cookie request, or not an instructor.",
    404: "No such thing on your account.",
    409: "The request conflicts with the current state; `detail` says why.",
    413: "The request body is over the limit.",
    415: "The body's content type is not one this endpoint reads.",
    422: "Some fields are missing or invalid.",
    429: "A limit was reached; Retry-After says when to try again.",
    503: "The server is busy; Retry-After says when to try again.",
}


def error_responses(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes a route can answer, 401 and 422 always;
    `described` overrides a code's text (`_404="No such quiz."`)."""
    chosen = sorted({401, 422, *codes})
    return {
        code: {
            "model": ValidationErrorBody if code == 422 else ErrorBody,
            "description": described.get(f"_{code}", _ERROR_TEXT[code]),
        }
        for code in chosen
    }


class UserPublic(BaseModel):
    """Who a session cookie or an API token belongs to."""

    id: int
    email: str
    display_name: str
    role: str

    @classmethod
    def build(cls, user: User) -> UserPublic:
        assert user.id is not None
        return cls(id=user.id, email=user.email, display_name=user.display_name, role=user.role)


class SubmissionSummary(BaseModel):
    """One of your submissions in a list; `score` is null until graded (views.learner_score)."""

    id: int
    exercise: str
    status: str
    score: float | None
    max_score: float | None
    submitted_at: datetime | None
    late: bool = Field(False, description="Sent after your due date (the late policy allowed it).")
    url: str = Field(description="Where its full view is.")

    @classmethod
    def build(cls, submission: Submission, exercise: Exercise | None) -> SubmissionSummary:
        assert submission.id is not None
        score, max_score = views.learner_score(submission, exercise)
        return cls(
            id=submission.id,
            exercise=submission.exercise_slug,
            status=submission.status,
            score=score,
            max_score=max_score,
            submitted_at=submission.requested_at,
            late=submission.late,
            url=f"{API_PREFIX}/submissions/{submission.id}",
        )


class SubmissionEventPublic(BaseModel):
    status: str
    at: datetime


class SubmissionPublic(BaseModel):
    """Your submission: where it is, its score once graded and what the learner may see of
    its result (results.learner_view: no hidden checks, no raw output)."""

    id: int
    exercise: str
    status: str
    final: bool = Field(description="True once graded, failed or errored: nothing changes after.")
    queued_ahead: int | None = Field(description="Submissions ahead in the queue while queued.")
    score: float | None
    max_score: float | None
    message: str = Field(description="What happened, for the learner (e.g. why it failed).")
    log_excerpt: str = Field(description="Your code's output, only when it failed.")
    submitted_at: datetime | None
    late: bool = Field(False, description="Sent after your due date (the late policy allowed it).")
    graded_at: datetime | None
    phase_seconds: dict[str, float]
    events: list[SubmissionEventPublic]
    result: ResultDocument | None
    page: str = Field(description="The submission's page in the browser.")

    @classmethod
    def build(
        cls, db: Session, submission: Submission, exercise: Exercise | None
    ) -> SubmissionPublic:
        assert submission.id is not None
        score, max_score = views.learner_score(submission, exercise)
        state = submission.state
        steps = views.timeline(db, submission_id=submission.id, with_details=False)
        return cls(
            id=submission.id,
            exercise=submission.exercise_slug,
            status=state.value,
            final=state.is_final,
            queued_ahead=views.queue_position(db, submission=submission),
            score=score,
            max_score=max_score,
            message=submission.learner_message or "",
            log_excerpt=views.learner_log_excerpt(submission),
            submitted_at=submission.requested_at,
            late=submission.late,
            graded_at=submission.graded_at,
            phase_seconds=views.phase_seconds(submission),
            events=[SubmissionEventPublic(status=step.status, at=step.at) for step in steps],
            result=views.learner_result(submission, exercise),
            page=f"/submissions/{submission.id}",
        )
