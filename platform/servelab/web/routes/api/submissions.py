"""Routes: the submissions JSON API (`/api/v1/submissions`), by API token or session.

Learners get only their own submissions and only `results.learner_view` of a result.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from servelab.grading import due_dates, views
from servelab.grading.intake import SubmissionRefused
from servelab.web.api_schemas import (
    API_PREFIX,
    SubmissionPublic,
    SubmissionSummary,
    error_responses,
)
from servelab.web.deps import CourseDep, CsrfProtected, CurrentUser, SessionDep
from servelab.web.lookups import VisibleSubmission
from servelab.web.submission_input import (
    API_SUBMIT_BODY,
    IntakeDep,
    LoggedIn,
    SentSubmissionDep,
    UploadLimit,
)

router = APIRouter(prefix=f"{API_PREFIX}/submissions", tags=["submissions"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmissionPublic,
    dependencies=[LoggedIn, UploadLimit, CsrfProtected],
    openapi_extra=API_SUBMIT_BODY,
    responses=error_responses(
        400, 403, 404, 413, 415, 429, 503, _400="Refused: `detail` says why and what to do."
    ),
)
async def submit(
    response: Response,
    sent: SentSubmissionDep,
    intake: IntakeDep,
    user: CurrentUser,
    db: SessionDep,
) -> SubmissionPublic:
    """Submit: JSON `{"exercise", "files": {name: text}}`, or multipart with fields `exercise`
    and `archive` (a .zip). The answer's Location is the submission's URL."""
    try:
        submission = await intake.accept(db, user=user, sent=sent)
    except SubmissionRefused as exc:
        retry = exc.retry_after_seconds
        headers = {"Retry-After": str(retry)} if retry else None
        raise HTTPException(exc.status_code, exc.message, headers=headers) from None
    response.headers["Location"] = f"{API_PREFIX}/submissions/{submission.id}"
    exercise = due_dates.submission_exercise(db, intake.course.exercises, submission)
    return SubmissionPublic.build(db, submission, exercise)


@router.get("", response_model=list[SubmissionSummary], responses=error_responses())
def list_mine(
    user: CurrentUser, db: SessionDep, course: CourseDep, exercise: str | None = None
) -> list[SubmissionSummary]:
    """Your submissions, newest first, optionally of one exercise (fetch one for its result)."""
    mine = due_dates.learner_exercises(db, course.exercises, user_id=user.id or 0)
    return [
        SubmissionSummary.build(s, mine.get(s.exercise_slug))
        for s in views.list_submissions(db, user_id=user.id, exercise_slug=exercise)
    ]


@router.get("/{submission_id}", response_model=SubmissionPublic, responses=error_responses(404))
def detail(submission: VisibleSubmission, db: SessionDep, course: CourseDep) -> SubmissionPublic:
    """One of your submissions: where it is, and its result once graded."""
    exercise = due_dates.submission_exercise(db, course.exercises, submission)
    return SubmissionPublic.build(db, submission, exercise)
